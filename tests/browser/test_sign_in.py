"""Signing in, choosing among several workspaces, and the admin link only for staff."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests.browser.conftest import PHONE, WIDE

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize("viewport", [WIDE, PHONE], indirect=True, ids=["1280", "390"])
def test_a_member_of_two_workspaces_signs_in_and_picks_one(browser, make_member):
    make_member("acme", "analyst", email="ann@example.com")
    make_member("globex", "owner", email="ann@example.com")
    page = browser.page

    browser.go("/chat/")
    expect(page).to_have_url(f"{browser.base_url}/login/?next=/chat/")
    page.get_by_label("Email").fill("ann@example.com")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("correct email")
    browser.shot("wrong-password")

    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("heading", name="Choose a workspace")).to_be_visible()
    browser.shot("picker")
    page.get_by_role("button", name="Globex").click()

    expect(page).to_have_url(f"{browser.base_url}/chat/")
    expect(page.locator(".who .workspace")).to_have_text("Globex")
    # An owner who is not staff: Django admin would refuse them, so no link to it.
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    browser.shot("chat-home")

    page.get_by_role("link", name="Switch").click()
    page.get_by_role("button", name="Acme").click()
    expect(page.locator(".who .workspace")).to_have_text("Acme")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)

    User.objects.filter(email="ann@example.com").update(is_staff=True)
    page.reload()
    expect(page.get_by_role("link", name="Admin")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
