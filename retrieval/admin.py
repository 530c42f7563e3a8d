"""Django admin for documents (with upload), companies and chunks."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from accounts.errors import ApplicationError
from accounts.models import Tenant
from retrieval.company_names import company_name_problem
from retrieval.models import Chunk, Company, CompanyAlias, Document
from retrieval.selectors import company_choices
from retrieval.services import DocumentMetadata, company_directory_changed, document_register


class CompanyAliasForm(forms.ModelForm):
    class Meta:
        model = CompanyAlias
        fields = ("alias", "tenant")

    def clean_alias(self) -> str:
        alias = " ".join(str(self.cleaned_data["alias"]).split())
        problem = company_name_problem(alias)
        if problem:
            raise forms.ValidationError(f"This name cannot scope questions: {problem}.")
        return alias


class CompanyAliasInline(admin.TabularInline):
    model = CompanyAlias
    form = CompanyAliasForm
    extra = 1
    fields = ("alias", "tenant", "document")
    readonly_fields = ("document",)
    verbose_name_plural = "aliases (no tenant: every tenant's questions match them)"


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    """The trusted directory (no tenant) and each tenant's own entries. A change retires the
    answers cached over the old directory (every tenant's, for a trusted entry)."""

    list_display = ("name", "ticker", "cik", "tenant")
    list_filter = (("tenant", admin.EmptyFieldListFilter),)
    search_fields = ("name", "ticker", "cik", "alias_set__alias")
    inlines = [CompanyAliasInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Moving an entry between tenants would carry one tenant's names to another.
        return ("tenant",) if obj is not None else ()

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        company_directory_changed(tenant=form.instance.tenant)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        company_directory_changed(tenant=obj.tenant)


# Writing into one tenant's private library is a stronger right than adding to the shared
# library: it needs this permission (superusers have it), not only retrieval.add_document.
UPLOAD_FOR_TENANT_PERMISSION = "retrieval.upload_for_tenant"


class UploadForm(forms.Form):
    file = forms.FileField()
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.none(), required=False, help_text="Empty: the shared library."
    )

    def __init__(self, *args: Any, may_choose_tenant: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        tenant_field = self.fields["tenant"]
        if may_choose_tenant:
            tenant_field.queryset = Tenant.objects.order_by("slug")  # type: ignore[attr-defined]
        else:
            tenant_field.help_text = (
                "Uploads go to the shared library; uploading into a tenant needs the "
                "'Can upload documents into a tenant's library' permission."
            )

    title = forms.CharField(required=False)
    company = forms.CharField(required=False)
    ticker = forms.CharField(required=False)
    doc_type = forms.ChoiceField(choices=Document.DocType.choices, initial="other")
    fiscal_year = forms.IntegerField(required=False, min_value=1900, max_value=2100)
    fiscal_period = forms.ChoiceField(
        choices=[("", "-"), ("FY", "FY"), ("Q1", "Q1"), ("Q2", "Q2"), ("Q3", "Q3"), ("Q4", "Q4")],
        required=False,
    )


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "tenant",
        "ticker",
        "doc_type",
        "fiscal_year",
        "fiscal_period",
        "status",
        "progress",
        "page_count",
        "chunk_count",
        "created_at",
    )
    list_filter = ("status", "doc_type", "fiscal_year", "tenant")
    search_fields = ("title", "ticker", "source", "company__name", "sha256")
    readonly_fields = (
        "sha256",
        "size_bytes",
        "page_count",
        "chunk_count",
        "status",
        "progress",
        "error_code",
        "error_message",
        "embedding_model",
        "created_by",
        "created_at",
        "updated_at",
        "ingested_at",
    )
    change_list_template = "admin/retrieval/document/change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # documents arrive through the upload view, which queues ingestion

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # A document's chunks carry its tenant; moving the document alone would leave them
        # searchable by the old tenant, so the tenant is fixed once the document exists.
        return (*super().get_readonly_fields(request, obj), "tenant")

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "company":
            kwargs["queryset"] = self._companies_for(request)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def _companies_for(self, request: HttpRequest) -> QuerySet[Company]:
        """The trusted directory plus the companies of the edited document's tenant."""
        document_id = (
            request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
        )
        tenant_id = (
            Document.objects.filter(pk=document_id).values_list("tenant_id", flat=True).first()
            if document_id
            else None
        )
        return company_choices(tenant_id=tenant_id)

    def has_upload_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("retrieval.add_document")

    def get_urls(self) -> list[URLPattern]:
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="document-upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_upload_permission(request):
            raise PermissionDenied
        form = UploadForm(
            request.POST or None,
            request.FILES or None,
            may_choose_tenant=request.user.has_perm(UPLOAD_FOR_TENANT_PERMISSION),
        )
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                document, created = document_register(
                    tenant=form.cleaned_data["tenant"],
                    user=request.user,  # type: ignore[arg-type]
                    data=upload.read(),
                    filename=upload.name,
                    content_type=upload.content_type or "",
                    metadata=DocumentMetadata(
                        title=form.cleaned_data["title"],
                        company=form.cleaned_data["company"],
                        ticker=form.cleaned_data["ticker"],
                        doc_type=form.cleaned_data["doc_type"],
                        fiscal_year=form.cleaned_data["fiscal_year"],
                        fiscal_period=form.cleaned_data["fiscal_period"] or "",
                    ),
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                verb = "queued for ingestion" if created else "already uploaded"
                messages.success(request, f"{document.title}: {verb}.")
                return HttpResponseRedirect(reverse("admin:retrieval_document_changelist"))
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Upload a document",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/retrieval/document/upload.html", context)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        extra = {**(extra_context or {}), "can_upload": self.has_upload_permission(request)}
        return super().changelist_view(request, extra_context=extra)


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ("document", "ordinal", "page_start", "page_end", "section", "token_count")
    list_filter = ("embedding_model",)
    search_fields = ("text", "document__title")
    readonly_fields = ("document", "tenant", "embedding_model")
    exclude = ("embedding", "embedding_1536", "search_vector")
