"""Reads for billing, one module per concern: budget status and one query's costs (`budget`),
the usage page's figures for one workspace (`usage`), the cost reports (`reports`: per user this
month, per provider, the most expensive queries) and the measured optimisation report
(`optimisation`). Import from here.

Every report takes `tenant` first; None means every tenant (staff only, decided by the caller).
The usage-page reads take one tenant and never read another's rows.
"""

from billing.selectors.budget import budget_status_get, query_cost_lines
from billing.selectors.optimisation import optimisation_report, routing_target_price
from billing.selectors.reports import expensive_queries, provider_costs, user_costs_month
from billing.selectors.usage import (
    DayCost,
    ProviderCallCost,
    UsageTotals,
    usage_cost_by_day,
    usage_cost_by_provider,
    usage_totals,
)

__all__ = [
    "DayCost",
    "ProviderCallCost",
    "UsageTotals",
    "budget_status_get",
    "expensive_queries",
    "optimisation_report",
    "provider_costs",
    "query_cost_lines",
    "routing_target_price",
    "usage_cost_by_day",
    "usage_cost_by_provider",
    "usage_totals",
    "user_costs_month",
]
