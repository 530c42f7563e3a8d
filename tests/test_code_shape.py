"""The shape issue #14 sets for production code: no function of 80 lines or more, and no module
over 500 lines unless it has one clear job named below (data, settings).

Production is every .py file outside tests, benchmarks, migrations, conftest.py and the
installed packages. A function's length is its `def` line to its last line (ast's lineno to
end_lineno), nested functions counted inside the one that holds them.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

MAX_FUNCTION_LINES = 79
MAX_MODULE_LINES = 500

# Modules allowed past MAX_MODULE_LINES, each with the one job that makes it long.
LONG_MODULES: dict[str, str] = {
    "retrieval/finance/lexicon.py": (
        "data: the financial lexicon (page types, statement titles and line items, metric "
        "synonyms) read by the page classifier and question reader"
    ),
    "config/settings/base.py": "settings: every setting read once from the environment",
}

# Directories that hold no production code, wherever they appear (hidden ones are skipped too).
_NOT_PRODUCTION_DIRS = {"tests", "migrations", "node_modules", "__pycache__"}
# Top-level directories that hold no production code.
_NOT_PRODUCTION_TOP = {"bench"}


def production_files(root: Path) -> list[Path]:
    """Every production .py file under `root`, sorted (symlinked directories are not followed,
    so the linked virtualenv and node_modules are never read)."""
    found: list[Path] = []
    for directory, subdirectories, files in os.walk(root):
        here = Path(directory)
        top = here == root
        subdirectories[:] = sorted(
            name
            for name in subdirectories
            if not name.startswith(".")
            and name not in _NOT_PRODUCTION_DIRS
            and not (top and name in _NOT_PRODUCTION_TOP)
        )
        found.extend(
            here / name for name in files if name.endswith(".py") and name != "conftest.py"
        )
    return sorted(found)


def long_functions(path: Path, *, root: Path) -> list[str]:
    """`path:line name (N lines)` for every function in the file of more than
    MAX_FUNCTION_LINES lines."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    relative = path.relative_to(root).as_posix()
    return [
        f"{relative}:{node.lineno} {node.name} ({length} lines)"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (length := (node.end_lineno or node.lineno) - node.lineno + 1) > MAX_FUNCTION_LINES
    ]


def long_module(path: Path, *, root: Path) -> str | None:
    """`path (N lines)` when the file is over MAX_MODULE_LINES lines and not in LONG_MODULES."""
    relative = path.relative_to(root).as_posix()
    lines = len(path.read_text(encoding="utf-8").splitlines())
    if lines <= MAX_MODULE_LINES or relative in LONG_MODULES:
        return None
    return f"{relative} ({lines} lines)"


def test_no_production_function_is_80_lines_or_longer():
    offenders = [
        offender for path in production_files(ROOT) for offender in long_functions(path, root=ROOT)
    ]
    assert not offenders, (
        f"Functions of 80 lines or more (split each into functions with one job): {offenders}"
    )


def test_no_production_module_is_over_500_lines_without_one_clear_job():
    offenders = [
        offender for path in production_files(ROOT) if (offender := long_module(path, root=ROOT))
    ]
    assert not offenders, (
        "Modules over 500 lines (split them along their seams, or add the path to "
        f"LONG_MODULES with the one job that makes it long): {offenders}"
    )


def test_every_allowed_long_module_exists_and_is_production_code():
    production = {path.relative_to(ROOT).as_posix() for path in production_files(ROOT)}
    assert set(LONG_MODULES) <= production, set(LONG_MODULES) - production


def test_the_checks_catch_an_80_line_function_and_a_501_line_module(tmp_path):
    package = tmp_path / "app"
    (package / "tests").mkdir(parents=True)

    def function(name: str, lines: int) -> list[str]:
        return [f"def {name}():", *(f"    x{i} = {i}" for i in range(lines - 2)), "    return 0"]

    source = [*function("just_short", 79), "", "", *function("too_long", 80)]
    source += [""] * (MAX_MODULE_LINES + 1 - len(source))
    (package / "shapes.py").write_text("\n".join(source) + "\n")
    (package / "tests" / "test_big.py").write_text("x = 1\n" * 600)
    (package / "conftest.py").write_text("x = 1\n" * 600)

    files = production_files(tmp_path)

    assert files == [package / "shapes.py"]
    assert long_functions(files[0], root=tmp_path) == ["app/shapes.py:82 too_long (80 lines)"]
    assert long_module(files[0], root=tmp_path) == "app/shapes.py (501 lines)"
