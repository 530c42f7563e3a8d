"""Document pages: the library with filters, upload, live ingestion rows, passages, delete."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from rest_framework.settings import api_settings

from accounts.errors import ApplicationError, NotFound
from accounts.models import Membership, Tenant
from accounts.selectors import tenant_quota_get
from accounts.views import page, workspace_required
from retrieval import selectors, services
from retrieval.models import FISCAL_PERIODS, Chunk, Company, Document

PAGE_SIZE = 50
ACCEPTED_FILES = ".pdf,.htm,.html,.xhtml,.txt,.md,text/plain,text/html,application/pdf"
#: statuses that are still changing, so their rows keep polling
IN_FLIGHT = (Document.Status.QUEUED, Document.Status.PROCESSING)


class DocumentFilterForm(forms.Form):
    company = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    doc_type = forms.ChoiceField(required=False, label="Type")
    fiscal_year = forms.TypedChoiceField(
        coerce=int, required=False, empty_value=None, label="Fiscal year"
    )
    status = forms.ChoiceField(required=False)

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any):
        super().__init__(*args, **kwargs)
        visible = selectors.visible_documents(tenant=tenant)
        companies = Company.objects.filter(documents__in=visible).distinct().order_by("name")
        years = (
            visible.exclude(fiscal_year=None)
            .values_list("fiscal_year", flat=True)
            .distinct()
            .order_by("-fiscal_year")
        )
        self.fields["company"].choices = [("", "All companies")] + [  # type: ignore[attr-defined]
            (c.pk, str(c)) for c in companies
        ]
        self.fields["doc_type"].choices = [("", "All types"), *Document.DocType.choices]  # type: ignore[attr-defined]
        self.fields["fiscal_year"].choices = [("", "All years")] + [  # type: ignore[attr-defined]
            (y, str(y)) for y in years
        ]
        self.fields["status"].choices = [("", "Any status"), *Document.Status.choices]  # type: ignore[attr-defined]


class DocumentUploadForm(forms.Form):
    """The metadata shared by every file of one upload (the files come as `files`)."""

    title = forms.CharField(
        max_length=300, required=False, help_text="Used when you upload one file."
    )
    company = forms.CharField(max_length=200, required=False)
    ticker = forms.CharField(max_length=16, required=False)
    doc_type = forms.ChoiceField(
        choices=Document.DocType.choices, initial=Document.DocType.FORM_10K, label="Type"
    )
    fiscal_year = forms.IntegerField(min_value=1900, max_value=2100, required=False)
    fiscal_period = forms.ChoiceField(
        choices=[("", "-"), *((p, p) for p in FISCAL_PERIODS)], required=False
    )
    filing_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    source_url = forms.URLField(required=False, label="Source URL", assume_scheme="https")

    def metadata(self, *, single_file: bool) -> services.DocumentMetadata:
        data = self.cleaned_data
        return services.DocumentMetadata(
            title=data["title"] if single_file else "",
            company=data["company"],
            ticker=data["ticker"].upper(),
            doc_type=data["doc_type"],
            fiscal_year=data["fiscal_year"],
            fiscal_period=data["fiscal_period"],
            filing_date=data["filing_date"],
            source_url=data["source_url"],
        )


def _library_context(
    request: HttpRequest, membership: Membership, upload_form: DocumentUploadForm | None = None
) -> dict[str, Any]:
    tenant = membership.tenant
    filters = DocumentFilterForm(request.GET or None, tenant=tenant)
    values: dict[str, Any] = {}
    if filters.is_valid():
        values = {
            "company_id": filters.cleaned_data["company"],
            "doc_type": filters.cleaned_data["doc_type"] or None,
            "fiscal_year": filters.cleaned_data["fiscal_year"],
            "status": filters.cleaned_data["status"] or None,
        }
    documents = selectors.document_list(tenant=tenant, **values)
    paginator = Paginator(documents, PAGE_SIZE)
    listing = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "filters": filters,
        "filtered": any(v is not None for v in values.values()),
        "listing": listing,
        "query": query.urlencode(),
        "upload_form": upload_form or DocumentUploadForm(),
        "accept": ACCEPTED_FILES,
        "max_upload_bytes": tenant_quota_get(tenant=tenant).max_upload_bytes,
        "can_write": membership.can_write,
        "in_flight": IN_FLIGHT,
    }


@require_GET
@workspace_required
def document_library(request: HttpRequest, membership: Membership) -> HttpResponse:
    """The library; an htmx filter change gets only the table back."""
    context = _library_context(request, membership)
    if request.htmx and request.htmx.target == "document-table":  # type: ignore[attr-defined]
        return render(
            request, "retrieval/_document_table.html", {**context, "membership": membership}
        )
    return page(
        request, "retrieval/library.html", membership=membership, section="documents", **context
    )


def _upload_quota_count(request: HttpRequest, membership: Membership) -> None:
    """Count a web upload against the member's and the workspace's requests per minute, as the
    REST upload is: the same throttles (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES, billing's
    tenant quota; retrieval does not import billing) with the REST upload's scope. Raises the
    throttle's ApplicationError (rate_limited, 429 with Retry-After) when over."""
    view = SimpleNamespace(throttle_scope="upload", membership=membership)
    # DRF's throttles read only request.method and the view's attributes named here.
    throttles = cast(list[Any], api_settings.DEFAULT_THROTTLE_CLASSES)
    for throttle_class in throttles:
        if not throttle_class().allow_request(request, view):
            raise ApplicationError("Too many uploads; wait a minute and try again.")


@require_POST
@workspace_required
def document_upload(request: HttpRequest, membership: Membership) -> HttpResponse:
    """Register every uploaded file with the shared metadata; each is ingested in the
    background and its row shows the progress. Rejected files are reported one by one."""
    if not membership.can_write:
        messages.error(request, "Your role can read the library but not upload to it.")
        return redirect("documents")
    try:
        _upload_quota_count(request, membership)
    except ApplicationError as exc:
        messages.error(request, f"Nothing was uploaded: {exc.message}")
        response = page(
            request,
            "retrieval/library.html",
            membership=membership,
            section="documents",
            status=getattr(exc, "status_code", 429),
            **_library_context(request, membership),
        )
        for header, value in getattr(exc, "headers", {}).items():
            response[header] = value
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            response["Retry-After"] = str(retry_after)
        return response
    form = DocumentUploadForm(request.POST)
    files = request.FILES.getlist("files")
    if not files:
        form.add_error(None, "Choose at least one file to upload.")
    if not form.is_valid() or not files:
        context = _library_context(request, membership, upload_form=form)
        return page(
            request,
            "retrieval/library.html",
            membership=membership,
            section="documents",
            status=400,
            upload_open=True,
            **context,
        )
    metadata = form.metadata(single_file=len(files) == 1)
    queued: list[str] = []
    known: list[str] = []
    for upload in files:
        try:
            document, created = services.document_register(
                tenant=membership.tenant,
                user=membership.user,
                data=upload.read(),
                filename=upload.name or "upload",
                content_type=upload.content_type or "",
                metadata=metadata,
            )
        except ApplicationError as exc:
            messages.error(request, f"{upload.name} was not accepted: {exc.message}")
            continue
        (queued if created else known).append(document.title)
    if queued:
        noun = "document" if len(queued) == 1 else "documents"
        messages.success(
            request,
            f"Uploaded {len(queued)} {noun}; ingestion has started and progress shows below.",
        )
    for title in known:
        messages.info(
            request, f"{title} is already in the library (same file); not uploaded again."
        )
    return redirect("documents")


def _document(membership: Membership, document_id: int) -> Document:
    try:
        return selectors.document_get(tenant=membership.tenant, document_id=document_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@require_GET
@workspace_required
def document_row(request: HttpRequest, membership: Membership, document_id: int) -> HttpResponse:
    """One library row; rows of queued or processing documents poll this until they settle."""
    return render(
        request,
        "retrieval/_document_row.html",
        {
            "document": _document(membership, document_id),
            "membership": membership,
            "can_write": membership.can_write,
            "in_flight": IN_FLIGHT,
        },
    )


@require_GET
@workspace_required
def document_detail(request: HttpRequest, membership: Membership, document_id: int) -> HttpResponse:
    """A document's metadata and its passages page by page (citations link here)."""
    document = _document(membership, document_id)
    pages = sorted(
        set(Chunk.objects.filter(document=document).values_list("page_start", flat=True))
    )
    try:
        current = int(request.GET.get("page", "") or (pages[0] if pages else 1))
    except ValueError:
        current = pages[0] if pages else 1
    # The document was resolved through the tenant's visibility check above.
    passages = Chunk.objects.filter(
        document=document, page_start__lte=current, page_end__gte=current
    ).order_by("ordinal")
    index = pages.index(current) if current in pages else -1
    return page(
        request,
        "retrieval/document_detail.html",
        membership=membership,
        section="documents",
        document=document,
        pages=pages,
        current_page=current,
        previous_page=pages[index - 1] if index > 0 else None,
        next_page=pages[index + 1] if 0 <= index < len(pages) - 1 else None,
        passages=passages,
        highlight=request.GET.get("chunk", ""),
        can_delete=membership.can_write and document.tenant_id == membership.tenant_id,
    )


@require_GET
@workspace_required
def document_original_page(
    request: HttpRequest, membership: Membership, document_id: int
) -> HttpResponse:
    """A page of the original file as published (pdf.js for a PDF, a sandboxed frame for HTML)
    with the cited text highlighted, beside the passages extracted from that page."""
    try:
        original = selectors.document_original_get(
            tenant=membership.tenant, document_id=document_id
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    document = original.document
    try:
        current = max(1, int(request.GET.get("page", "") or 1))
    except ValueError:
        current = 1
    if document.page_count:
        current = min(current, document.page_count)
    # The document was resolved through the tenant's visibility check above.
    passages = Chunk.objects.filter(
        document=document, page_start__lte=current, page_end__gte=current
    ).order_by("ordinal")
    highlight = request.GET.get("chunk", "")
    cited = next((p for p in passages if str(p.pk) == highlight), None)
    return page(
        request,
        "retrieval/document_original.html",
        membership=membership,
        section="documents",
        document=document,
        kind=original.kind,
        current_page=current,
        previous_page=current - 1 if current > 1 else None,
        next_page=current + 1 if current < document.page_count else None,
        passages=passages,
        highlight=highlight,
        # What to find on the page: the sentences the answer relied on, else the whole passage.
        quote=(request.GET.get("q", "") or (cited.text if cited else ""))[:2000],
    )


@require_POST
@workspace_required
def document_delete(request: HttpRequest, membership: Membership, document_id: int) -> HttpResponse:
    document = _document(membership, document_id)
    if not membership.can_write:
        messages.error(request, "Your role can read the library but not delete from it.")
        return redirect("document-detail", document_id=document.pk)
    try:
        services.document_delete(tenant=membership.tenant, document=document)
    except NotFound:
        messages.error(request, "Shared-library documents cannot be deleted from a workspace.")
        return redirect("document-detail", document_id=document.pk)
    messages.success(request, f"Deleted {document.title}.")
    return redirect(reverse("documents"))
