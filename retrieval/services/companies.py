"""The company directory's writes: the entry an upload names, and the other names it brings."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db.models import F, Q

from accounts.models import Tenant
from retrieval.company_names import company_aliases_clean
from retrieval.models import Company, CompanyAlias, Document

logger = logging.getLogger(__name__)


def company_resolve(
    *, tenant: Tenant | None, name: str, ticker: str = "", cik: str = ""
) -> Company | None:
    """The directory entry an upload names, found by CIK, else ticker, else name among the
    trusted entries and the tenant's own (never another tenant's), or created in the tenant's
    own directory (the trusted one for a shared-library upload).

    A tenant's upload never changes a trusted entry; it may fill its own entry's missing ticker
    or CIK. Returns None when the upload names no company.
    """
    name, ticker, cik = name.strip(), ticker.strip().upper(), cik.strip().lstrip("0")
    if not (name or ticker):
        return None
    reachable = Company.objects.filter(Q(tenant__isnull=True) | Q(tenant=tenant))
    trusted_first = reachable.order_by(F("tenant").asc(nulls_first=True), "pk")
    company = None
    if cik:
        company = trusted_first.filter(cik=cik).first()
    if company is None and ticker:
        company = trusted_first.filter(ticker=ticker).first()
    if company is None and name:
        company = trusted_first.filter(name__iexact=name).first()
    if company is None:
        return Company.objects.create(tenant=tenant, name=name or ticker, ticker=ticker, cik=cik)
    if company.tenant_id == (tenant.pk if tenant else None):
        changed = []
        for attr, value in (("ticker", ticker), ("cik", cik)):
            if value and not getattr(company, attr):
                setattr(company, attr, value)
                changed.append(attr)
        if changed:
            company.save(update_fields=changed)
    return company


def company_aliases_add(*, company: Company, document: Document, names: Sequence[str]) -> list[str]:
    """Record an upload's other names of its company, for the uploading tenant's questions only
    (for everyone's when the upload is the shared library's). Names that are not fit to scope a
    question (company_names.company_name_problem) and those past the per-upload limit are
    dropped and logged. Deleting the document removes them. Returns the names kept."""
    kept, refused = company_aliases_clean(names, exclude=(company.name,))
    if refused:
        logger.info(
            "Document %s: %d company name(s) not added to the directory, e.g. %r (%s)",
            document.pk,
            len(refused),
            refused[0][0],
            refused[0][1],
        )
    CompanyAlias.objects.bulk_create(
        [
            CompanyAlias(company=company, tenant=document.tenant, document=document, alias=name)
            for name in kept
        ],
        ignore_conflicts=True,
    )
    return kept
