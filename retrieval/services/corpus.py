"""Corpus versions: the token cached answers are keyed on, moved on whenever what a tenant's
questions can read changes."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from accounts.models import Tenant
from retrieval.models import CorpusVersion


def company_directory_changed(*, tenant: Tenant | None) -> None:
    """Staff changed a directory entry (tenant None: the trusted directory, which every
    tenant's questions use): answers cached over the old directory are retired."""
    corpus_version_bump(tenant=tenant)


def corpus_version_bump(*, tenant: Tenant | None) -> None:
    """Invalidate cached answers over this tenant's corpus (None: the shared library)."""
    updated = CorpusVersion.objects.filter(tenant=tenant).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    if not updated:
        CorpusVersion.objects.get_or_create(tenant=tenant, defaults={"version": 1})
