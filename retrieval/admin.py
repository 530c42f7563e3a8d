"""Django admin for documents (with upload), companies and chunks."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from accounts.errors import ApplicationError
from accounts.models import Tenant
from retrieval.models import Chunk, Company, Document
from retrieval.services import DocumentMetadata, document_register


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin):
    list_display = ("name", "ticker", "cik")
    search_fields = ("name", "ticker", "cik", "aliases")


class UploadForm(forms.Form):
    file = forms.FileField()
    tenant = forms.ModelChoiceField(
        queryset=Tenant.objects.all(), required=False, help_text="Empty: the shared library."
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

    def get_urls(self) -> list[URLPattern]:
        return [
            path("upload/", self.admin_site.admin_view(self.upload_view), name="document-upload"),
            *super().get_urls(),
        ]

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        form = UploadForm(request.POST or None, request.FILES or None)
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


@admin.register(Chunk)
class ChunkAdmin(admin.ModelAdmin):
    list_display = ("document", "ordinal", "page_start", "page_end", "section", "token_count")
    list_filter = ("embedding_model",)
    search_fields = ("text", "document__title")
    readonly_fields = ("document", "tenant", "embedding_model")
    exclude = ("embedding", "embedding_1536", "search_vector")
