"""The usage page in a browser: charts from the ledger and the budget meter's three states."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import Tenant
from billing.models import LedgerEntry
from billing.selectors import budget_status_get
from tests.browser.conftest import PHONE, WIDE
from tests.browser.test_chat import FILING, GLUEWORKS, start_conversation
from tests.fakes.llm_server import ok

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The points a drawn chart holds, or null until Chart.js has drawn it.
CHART_POINTS = """(id) => {
  const chart = window.Chart && Chart.getChart(document.getElementById(id));
  return chart ? chart.data.datasets[0].data : null;
}"""


def chart_points(page, canvas_id: str) -> list[float]:
    return page.wait_for_function(CHART_POINTS, arg=canvas_id).json_value()


@pytest.mark.parametrize("viewport", [WIDE, PHONE], indirect=True, ids=["1280", "390"])
def test_usage_charts_render_and_the_budget_meter_warns_then_blocks(
    browser, make_member, ingested, live_stack
):
    owner = make_member("acme", "owner", tier="pro")
    ingested(owner.tenant, FILING, **GLUEWORKS)
    answer = ok(
        "Net sales were $32,765 million in fiscal 2018 [1].",
        input_tokens=120_000,
        output_tokens=4_000,
    )
    live_stack.llm.script(answer, api="anthropic")
    browser.sign_in(owner.user.email)
    start_conversation(browser)
    page = browser.page
    page.get_by_label("Ask a question").fill("Glueworks net sales 2018")
    page.get_by_label("Ask a question").press("Enter")
    expect(page.locator(".answer").last).to_have_attribute(
        "data-status", "complete", timeout=60_000
    )

    for _ in range(300):  # the ledger and the budget are settled just after the answer ends
        settled = budget_status_get(tenant=owner.tenant).spent_usd > 0
        if settled and LedgerEntry.objects.filter(tenant=owner.tenant, kind="query").exists():
            break
        page.wait_for_timeout(100)
    page.get_by_role("link", name="Usage").click()
    expect(page.locator("#budget")).to_contain_text("Within budget")
    daily = chart_points(page, "cost-over-time")
    by_provider = chart_points(page, "cost-by-provider")
    assert len(daily) == 30
    assert daily[-1] > 0
    assert by_provider
    assert by_provider[0] > 0
    expect(page.locator(".col-question a")).to_have_text("Glueworks net sales 2018")
    expect(page.get_by_text("Costs per member this month")).to_be_visible()
    assert browser.unlabelled_controls() == []
    # The owner is not staff: budgets are changed in Django admin, which would refuse them.
    expect(page.get_by_role("link", name="Change the budget or limits in Admin")).to_have_count(0)
    browser.shot("normal")

    spent = budget_status_get(tenant=owner.tenant).spent_usd
    assert spent > Decimal("0.1")
    Tenant.objects.filter(pk=owner.tenant.pk).update(
        monthly_budget_usd_override=(spent / Decimal("0.95")).quantize(Decimal("0.0001"))
    )
    page.reload()
    expect(page.locator("#budget .budget-state")).to_contain_text("Warning")
    expect(page.locator("#budget")).to_have_class("panel span-4 budget-warning")
    browser.shot("warning")

    Tenant.objects.filter(pk=owner.tenant.pk).update(monthly_budget_usd_override=Decimal(0))
    page.get_by_role("link", name="7 days").click()
    expect(page.locator("#budget .budget-state")).to_have_text("Blocked: questions are refused")
    expect(page.locator("#budget .meter")).to_have_attribute("aria-valuenow", "100")
    assert len(chart_points(page, "cost-over-time")) == 7
    browser.shot("blocked")
