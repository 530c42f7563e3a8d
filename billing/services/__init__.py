"""Writes for billing: the cost ledger (services.ledger) and budget reservations with the 90%
warning (services.budgets). Import from here."""

from billing.services.budgets import (
    budget_reserve,
    budget_warning_send,
    reservation_settle,
    reservation_shrink,
    reservations_expire,
)
from billing.services.ledger import (
    PricedLine,
    QueryTotals,
    ledger_line_price,
    ledger_line_record,
    ledger_lines_record,
    period_resets_at,
    period_start_for,
    query_summary_record,
    query_totals,
)

__all__ = [
    "PricedLine",
    "QueryTotals",
    "budget_reserve",
    "budget_warning_send",
    "ledger_line_price",
    "ledger_line_record",
    "ledger_lines_record",
    "period_resets_at",
    "period_start_for",
    "query_summary_record",
    "query_totals",
    "reservation_settle",
    "reservation_shrink",
    "reservations_expire",
]
