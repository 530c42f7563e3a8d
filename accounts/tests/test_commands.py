"""Management commands create tenants, users and keys idempotently and fail clearly."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import ApiKey, Membership, Tenant, User

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_tenant_twice_is_idempotent():
    first, _ = run("create_tenant", "initech", "--name", "Initech", "--tier", "pro")
    second, _ = run("create_tenant", "initech", "--name", "Initech", "--tier", "pro")
    assert first.startswith("Created")
    assert second.startswith("Exists")
    assert Tenant.objects.filter(slug="initech").count() == 1


def test_create_tenant_rejects_unknown_tier_and_bad_slug():
    with pytest.raises(CommandError, match="Unknown tier"):
        run("create_tenant", "initech", "--tier", "platinum")
    with pytest.raises(CommandError, match="not a valid slug"):
        run("create_tenant", "Not A Slug")
    assert not Tenant.objects.exists()


def test_create_user_and_key_prints_the_raw_key_once():
    run("create_tenant", "initech")
    run("create_user", "Ann@Initech.example", "--tenant", "initech", "--role", "analyst")
    run("create_user", "ann@initech.example", "--tenant", "initech", "--role", "analyst")
    assert User.objects.filter(email="ann@initech.example").count() == 1
    assert Membership.objects.get(user__email="ann@initech.example").role == "analyst"
    out, err = run("create_api_key", "--tenant", "initech", "--user", "ann@initech.example")
    raw = out.strip()
    key = ApiKey.objects.get(tenant__slug="initech")
    assert raw.startswith(key.prefix + ".")
    assert "not shown again" in err


def test_create_user_with_a_conflicting_role_fails_and_changes_nothing():
    run("create_tenant", "initech")
    run("create_user", "bob@initech.example", "--tenant", "initech", "--role", "viewer")
    with pytest.raises(CommandError, match="already a viewer"):
        run("create_user", "bob@initech.example", "--tenant", "initech", "--role", "owner")
    assert Membership.objects.get(user__email="bob@initech.example").role == "viewer"


def test_commands_name_the_missing_tenant_or_user():
    with pytest.raises(CommandError, match="No tenant"):
        run("create_user", "x@y.example", "--tenant", "nope", "--role", "analyst")
    run("create_tenant", "initech")
    with pytest.raises(CommandError, match="No user"):
        run("create_api_key", "--tenant", "initech", "--user", "ghost@y.example")
