"""manage.py cost_report [--days 7] [--tenant SLUG] [--csv] [--report NAME]: the cost reports."""

from __future__ import annotations

import csv
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Tenant
from billing import selectors
from billing.contracts import OptimisationReport

_MICRO = Decimal("0.000001")

# A report's title, header and rows.
Table = tuple[str, list[str], list[list[Any]]]


def _users_table(*, tenant: Tenant | None, days: int) -> Table:
    header = [
        "tenant",
        "email",
        "queries",
        "tokens",
        "cost_usd",
        "avg_latency_ms",
        "cache_hit_rate",
    ]
    rows: list[list[Any]] = [
        [
            r.tenant,
            r.email,
            r.query_count,
            r.total_tokens,
            r.total_cost_usd,
            f"{r.avg_latency_ms:.0f}",
            f"{r.cache_hit_rate:.3f}",
        ]
        for r in selectors.user_costs_month(tenant=tenant)
    ]
    return "Per member, this month", header, rows


def _providers_table(*, tenant: Tenant | None, days: int) -> Table:
    header = ["provider", "cost_usd", "tokens", "calls", "queries", "avg_cost_per_query_usd"]
    rows: list[list[Any]] = [
        [
            r.provider,
            r.total_cost_usd,
            r.total_tokens,
            r.calls,
            r.query_count,
            r.avg_cost_per_query_usd.quantize(_MICRO),
        ]
        for r in selectors.provider_costs(tenant=tenant, days=days)
    ]
    return f"By provider, last {days} days", header, rows


def _expensive_table(*, tenant: Tenant | None, days: int) -> Table:
    header = [
        "created_at",
        "tenant",
        "email",
        "query_id",
        "providers",
        "tokens",
        "cost_usd",
        "latency_ms",
        "status",
    ]
    rows: list[list[Any]] = [
        [
            r.created_at.isoformat(timespec="seconds"),
            r.tenant,
            r.email,
            r.query_id,
            "+".join(r.providers),
            r.total_tokens,
            r.cost_usd,
            r.latency_ms,
            r.status,
        ]
        for r in selectors.expensive_queries(tenant=tenant, hours=24)
    ]
    return "Most expensive questions, last 24 hours", header, rows


def _optimisation_table(*, tenant: Tenant | None, days: int) -> Table:
    report = selectors.optimisation_report(tenant=tenant, days=days)
    return f"Optimisation, last {days} days", ["metric", "value"], _optimisation(report)


# Each report by name, in the order `--report all` prints them.
_TABLES: dict[str, Callable[..., Table]] = {
    "users": _users_table,
    "providers": _providers_table,
    "expensive": _expensive_table,
    "optimisation": _optimisation_table,
}
REPORTS = tuple(_TABLES)


class Command(BaseCommand):
    help = (
        "Cost reports from the ledger: per member this month, by provider over --days, the 20 "
        "most expensive questions of the last 24 hours, and the optimisation report (cache hit "
        "rate and savings, measured savings of routing short answers to the cheapest model)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=7,
            help="Window of the provider and optimisation reports (default 7).",
        )
        parser.add_argument("--tenant", default="", help="One tenant's slug (default: all).")
        parser.add_argument("--csv", action="store_true", help="CSV instead of text.")
        parser.add_argument("--report", choices=(*REPORTS, "all"), default="all")

    def handle(self, *args: Any, **options: Any) -> None:
        days = int(options["days"])
        if not 1 <= days <= 366:
            raise CommandError("--days must be between 1 and 366.")
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant with slug '{options['tenant']}'.")
        wanted = REPORTS if options["report"] == "all" else (options["report"],)
        tables = [_TABLES[name](tenant=tenant, days=days) for name in wanted]
        if options["csv"]:
            writer = csv.writer(self.stdout, lineterminator="\n")
            for index, (title, header, rows) in enumerate(tables):
                if index:
                    writer.writerow([])
                writer.writerow([f"# {title}"])
                writer.writerow(header)
                writer.writerows(rows)
            return
        scope = f"tenant {tenant.slug}" if tenant else "all tenants"
        self.stdout.write(f"Cost report ({scope})")
        for title, header, rows in tables:
            self.stdout.write("")
            self.stdout.write(title)
            self.stdout.write("=" * len(title))
            self._text_table(header, rows)

    def _text_table(self, header: list[str], rows: list[list[Any]]) -> None:
        cells = [header, *[[str(c) for c in row] for row in rows]]
        widths = [max(len(str(row[i])) for row in cells) for i in range(len(header))]
        for index, row in enumerate(cells):
            self.stdout.write("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
            if index == 0:
                self.stdout.write("  ".join("-" * w for w in widths))
        if not rows:
            self.stdout.write("(none)")


def _optimisation(report: OptimisationReport) -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["total_cost_usd", report.total_cost_usd],
        ["queries", report.queries],
        ["cache_hits", report.cache_hits],
        ["cache_hit_rate", f"{report.cache_hit_rate:.3f}"],
        ["cache_savings_usd", report.cache_savings_usd],
        ["routing_target", report.routing_target or "-"],
        ["routing_short_answer_tokens", report.routing_short_answer_tokens],
        ["routing_savings_usd", report.routing_savings_usd],
        ["routing_savings_ratio", f"{report.routing_savings_ratio:.3f}"],
    ]
    for line in report.routing_lines:
        rows.append(
            [
                f"routing:{line.provider}/{line.model}",
                f"{line.queries} short answers, ${line.actual_cost_usd} -> ${line.target_cost_usd}",
            ]
        )
    return rows
