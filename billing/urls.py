"""REST routes of billing."""

from django.urls import path

from billing import apis

urlpatterns = [
    path("billing/budget", apis.BudgetApi.as_view(), name="billing-budget"),
    path(
        "billing/queries/<uuid:query_id>",
        apis.QueryCostApi.as_view(),
        name="billing-query-cost",
    ),
    path("billing/reports/users", apis.UserCostReportApi.as_view(), name="billing-report-users"),
    path(
        "billing/reports/providers",
        apis.ProviderCostReportApi.as_view(),
        name="billing-report-providers",
    ),
    path(
        "billing/reports/expensive-queries",
        apis.ExpensiveQueryReportApi.as_view(),
        name="billing-report-expensive-queries",
    ),
    path(
        "billing/reports/optimisation",
        apis.OptimisationReportApi.as_view(),
        name="billing-report-optimisation",
    ),
]
