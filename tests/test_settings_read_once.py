"""Settings have one home: config/settings/base.py defines each one, code reads `settings.X`."""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_PACKAGES = (
    "accounts", "agents", "billing", "config", "fintext", "monitoring", "retrieval",
)  # fmt: skip


def _production_modules() -> list[Path]:
    return [
        path
        for package in PRODUCTION_PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "tests" not in path.parts and "migrations" not in path.parts
    ]


def _is_settings(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in {"settings", "django_settings"}) or (
        isinstance(node, ast.Attribute) and node.attr == "settings"
    )


def test_no_production_module_repeats_a_settings_default_with_getattr():
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in _production_modules()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and node.args
        and _is_settings(node.args[0])
    ]
    assert offenders == []


def test_every_setting_the_code_reads_is_defined_in_the_settings_modules():
    read = {
        (node.attr, f"{path.relative_to(ROOT)}:{node.lineno}")
        for path in _production_modules()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Attribute) and _is_settings(node.value) and node.attr.isupper()
    }
    assert read, "the scan found no settings at all"
    assert sorted(where for name, where in read if not hasattr(settings, name)) == []
