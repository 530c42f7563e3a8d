"""Writes for billing: the cost ledger (services.ledger), budget reservations (services.budgets)
on the budget-period rows (services.budget_periods) with the 90% warning
(services.budget_warnings), and what a question may cost (services.estimates). Import from
here."""

from billing.services.budget_warnings import budget_warning_send
from billing.services.budgets import (
    budget_reserve,
    reservation_settle,
    reservation_shrink,
    reservations_expire,
)
from billing.services.estimates import Plan, chain_prices, request_plan, worst_case_plan
from billing.services.ledger import (
    AnswerTotals,
    PricedLine,
    QueryTotals,
    ledger_line_price,
    ledger_line_record,
    ledger_lines_record,
    period_resets_at,
    period_start_for,
    query_answer_totals,
    query_summary_record,
    query_totals,
)

__all__ = [
    "AnswerTotals",
    "Plan",
    "PricedLine",
    "QueryTotals",
    "budget_reserve",
    "budget_warning_send",
    "chain_prices",
    "ledger_line_price",
    "ledger_line_record",
    "ledger_lines_record",
    "period_resets_at",
    "period_start_for",
    "query_answer_totals",
    "query_summary_record",
    "query_totals",
    "request_plan",
    "reservation_settle",
    "reservation_shrink",
    "reservations_expire",
    "worst_case_plan",
]
