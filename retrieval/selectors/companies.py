"""The company directory a tenant's questions are scoped against, and the companies an upload
may be filed under."""

from __future__ import annotations

from django.db.models import F, Q, QuerySet

from accounts.models import Tenant
from retrieval.models import Company, CompanyAlias, Document
from retrieval.scoping import CompanyEntry

# Aliases read per company for scoping: enough for every real former name and short form, and
# a ceiling on what one tenant's uploads can make each question match against.
MAX_ALIASES_PER_COMPANY = 200


def company_directory(*, tenant: Tenant) -> list[CompanyEntry]:
    """Companies that have a ready document this tenant can read, from the trusted directory
    and the tenant's own, each with the trusted aliases and those the tenant's own ready
    documents brought. Nothing another tenant uploaded changes what this returns."""
    companies = list(
        Company.objects.filter(
            Q(tenant__isnull=True) | Q(tenant=tenant),
            Q(documents__tenant=tenant) | Q(documents__tenant__isnull=True),
            documents__status=Document.Status.READY,
        )
        .distinct()
        .order_by("name", "pk")
    )
    aliases: dict[int, list[str]] = {c.pk: [] for c in companies}
    rows = (
        CompanyAlias.objects.filter(company__in=list(aliases))
        .filter(Q(tenant__isnull=True) | Q(tenant=tenant))
        .filter(Q(document__isnull=True) | Q(document__status=Document.Status.READY))
        .order_by(F("tenant").asc(nulls_first=True), "pk")
        .values_list("company_id", "alias")
    )
    for company_id, alias in rows:
        if len(aliases[company_id]) < MAX_ALIASES_PER_COMPANY:
            aliases[company_id].append(alias)
    return [
        CompanyEntry(id=c.pk, name=c.name, ticker=c.ticker, aliases=tuple(aliases[c.pk]))
        for c in companies
    ]


def company_choices(*, tenant_id: int | None) -> QuerySet[Company]:
    """Companies a document of this tenant (None: the shared library) may be filed under: the
    trusted directory and the tenant's own entries."""
    return Company.objects.filter(Q(tenant__isnull=True) | Q(tenant_id=tenant_id)).order_by(
        "name", "pk"
    )
