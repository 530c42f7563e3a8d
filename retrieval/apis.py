"""REST endpoints of retrieval: upload, list, detail, delete documents; search."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.http import HttpResponse
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import TenantApiView
from accounts.errors import ValidationFailed
from accounts.fields import IdField, StrictCharField, YearField
from accounts.selectors import tenant_quota_get
from retrieval import selectors, services
from retrieval.chunking import minilm_token_count
from retrieval.contracts import SearchFilters
from retrieval.models import FISCAL_PERIODS, Document
from retrieval.uploads import UploadSizeLimitHandler

FISCAL_PERIOD_CHOICES = list(FISCAL_PERIODS)


class DocumentOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    company = serializers.CharField(source="company.name", default="")
    ticker = serializers.CharField()
    doc_type = serializers.CharField()
    fiscal_year = serializers.IntegerField(allow_null=True)
    fiscal_period = serializers.CharField()
    period_end = serializers.DateField(allow_null=True)
    filing_date = serializers.DateField(allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]
    source_url = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    page_count = serializers.IntegerField()
    chunk_count = serializers.IntegerField()
    status = serializers.CharField()
    progress = serializers.IntegerField()
    error_code = serializers.CharField()
    error_message = serializers.CharField()
    embedding_model = serializers.CharField()
    shared = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    ingested_at = serializers.DateTimeField(allow_null=True)

    def get_shared(self, document: Document) -> bool:
        return document.tenant_id is None


class MetadataSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=300, required=False, default="")
    company = serializers.CharField(max_length=200, required=False, default="")
    ticker = serializers.CharField(max_length=16, required=False, default="")
    doc_type = serializers.ChoiceField(choices=Document.DocType.choices, default="other")
    fiscal_year = serializers.IntegerField(
        min_value=1900, max_value=2100, required=False, allow_null=True
    )
    fiscal_period = serializers.ChoiceField(
        choices=FISCAL_PERIOD_CHOICES, required=False, allow_blank=True, default=""
    )
    period_end = serializers.DateField(required=False, allow_null=True)
    filing_date = serializers.DateField(required=False, allow_null=True)
    source_url = serializers.URLField(required=False, default="")


def metadata_from(data: dict[str, Any]) -> services.DocumentMetadata:
    return services.DocumentMetadata(
        title=data.get("title", ""),
        company=data.get("company", ""),
        ticker=data.get("ticker", ""),
        doc_type=data.get("doc_type", "other"),
        fiscal_year=data.get("fiscal_year"),
        fiscal_period=data.get("fiscal_period", ""),
        period_end=data.get("period_end"),
        filing_date=data.get("filing_date"),
        source_url=data.get("source_url", ""),
    )


class DocumentListApi(TenantApiView):
    parser_classes = (MultiPartParser, FormParser)
    # Uploads (and re-uploads) count against the tenant's requests per minute.
    throttle_scope = "upload"

    class DocumentFilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Document.Status.choices, required=False)
        ticker = serializers.CharField(required=False, max_length=16)
        doc_type = serializers.ChoiceField(choices=Document.DocType.choices, required=False)
        fiscal_year = YearField(required=False)
        company_id = IdField(required=False)

    class DocumentUploadSerializer(MetadataSerializer):
        files = serializers.ListField(child=serializers.FileField(), min_length=1, max_length=50)

    @extend_schema(
        parameters=[DocumentFilterSerializer], responses=DocumentOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        filters = self.DocumentFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        documents = selectors.document_list(tenant=self.tenant, **filters.validated_data)
        return Response(DocumentOutputSerializer(documents[:500], many=True).data)

    @extend_schema(
        request=DocumentUploadSerializer, responses={202: DocumentOutputSerializer(many=True)}
    )
    def post(self, request: Request) -> Response:
        # Before request.data is read: a file over the tier's limit is refused as it streams.
        max_bytes = tenant_quota_get(tenant=self.tenant).max_upload_bytes
        request._request.upload_handlers.insert(
            0,
            UploadSizeLimitHandler(max_bytes=max_bytes, request=request._request),
        )
        raw = cast(dict[str, Any], request.data)
        payload: dict[str, Any] = {k: v for k, v in raw.items() if k not in ("files", "file")}
        payload["files"] = request.FILES.getlist("files") or request.FILES.getlist("file")
        data = self.DocumentUploadSerializer(data=payload)
        data.is_valid(raise_exception=True)
        metadata = metadata_from(data.validated_data)
        documents = []
        for upload in data.validated_data["files"]:
            document, _ = services.document_register(
                tenant=self.tenant,
                user=self.membership.user,
                data=upload.read(),
                filename=upload.name,
                content_type=upload.content_type or "",
                metadata=metadata,
            )
            documents.append(document)
        return Response(
            DocumentOutputSerializer(documents, many=True).data, status=status.HTTP_202_ACCEPTED
        )


class DocumentDetailApi(TenantApiView):
    @extend_schema(responses=DocumentOutputSerializer)
    def get(self, request: Request, document_id: int) -> Response:
        document = selectors.document_get(tenant=self.tenant, document_id=document_id)
        return Response(DocumentOutputSerializer(document).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, document_id: int) -> Response:
        document = selectors.document_get(tenant=self.tenant, document_id=document_id)
        services.document_delete(tenant=self.tenant, document=document)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SearchHitSerializer(serializers.Serializer):
    chunk_id = serializers.IntegerField()
    document_id = serializers.IntegerField()
    document = serializers.CharField(source="document_title")
    source = serializers.CharField()  # type: ignore[assignment]
    company = serializers.CharField()
    ticker = serializers.CharField()
    doc_type = serializers.CharField()
    fiscal_year = serializers.IntegerField(allow_null=True)
    fiscal_period = serializers.CharField()
    page = serializers.IntegerField()
    section = serializers.CharField()
    score = serializers.FloatField()
    text = serializers.CharField()


class SearchOutputSerializer(serializers.Serializer):
    scope = serializers.DictField(help_text="The scope applied: filters, and how it was found.")
    embedding_model = serializers.CharField()
    hits = SearchHitSerializer(many=True)


class _AnyAcceptNegotiation(DefaultContentNegotiation):
    """The file goes out as what it is, whatever the client accepts; errors are JSON."""

    def select_renderer(self, request: Request, renderers: Any, format_suffix: Any = None) -> Any:
        return (renderers[0], renderers[0].media_type)


class DocumentOriginalApi(TenantApiView):
    """The original file of a document (PDF, HTML or text) as uploaded, for the page viewer
    and for download; readable exactly where the document is."""

    content_negotiation_class = _AnyAcceptNegotiation

    @extend_schema(
        responses={
            (200, "application/pdf"): OpenApiTypes.BINARY,
            (200, "text/html"): OpenApiTypes.BINARY,
            (200, "text/plain"): OpenApiTypes.BINARY,
        }
    )
    def get(self, request: Request, document_id: int) -> HttpResponse:
        original = selectors.document_original_get(tenant=self.tenant, document_id=document_id)
        response = HttpResponse(original.data, content_type=original.media_type)
        response["Content-Disposition"] = (
            content_disposition_header(
                as_attachment=request.query_params.get("download") == "1",
                filename=original.document.source or f"document-{document_id}",
            )
            or "inline"
        )
        # An uploaded HTML filing must never run in our origin: no scripts, no forms, no
        # requests anywhere; shown only in our own page's frame.
        response["Content-Security-Policy"] = (
            "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
            "frame-ancestors 'self'"
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["X-Frame-Options"] = "SAMEORIGIN"
        response["Cache-Control"] = "private, max-age=300"
        return response


class SearchApi(TenantApiView):
    parser_classes = (JSONParser,)
    # Counts against the tenant's requests per minute, and its query embedding is billed.
    throttle_scope = "search"
    # Searching reads only; viewers may search.
    write_roles = ("owner", "admin", "analyst", "viewer")

    class SearchInputSerializer(serializers.Serializer):
        query = StrictCharField(max_length=settings.QUESTION_MAX_CHARS)
        k = serializers.IntegerField(min_value=1, max_value=100, default=10)
        auto_scope = serializers.BooleanField(default=True)
        tickers = serializers.ListField(
            child=StrictCharField(max_length=16), required=False, default=list, max_length=100
        )
        company_ids = serializers.ListField(
            child=IdField(), required=False, default=list, max_length=100
        )
        doc_types = serializers.ListField(
            child=serializers.ChoiceField(choices=Document.DocType.choices),
            required=False,
            default=list,
            max_length=20,
        )
        fiscal_years = serializers.ListField(
            child=YearField(), required=False, default=list, max_length=100
        )
        fiscal_periods = serializers.ListField(
            child=serializers.ChoiceField(choices=FISCAL_PERIOD_CHOICES),
            required=False,
            default=list,
            max_length=20,
        )
        date_from = serializers.DateField(required=False, allow_null=True)
        date_to = serializers.DateField(required=False, allow_null=True)
        document_ids = serializers.ListField(
            child=IdField(), required=False, default=list, max_length=500
        )

    @extend_schema(request=SearchInputSerializer, responses=SearchOutputSerializer)
    def post(self, request: Request) -> Response:
        data = self.SearchInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["document_ids"]:
            visible = set(
                selectors.visible_documents(tenant=self.tenant)
                .filter(pk__in=values["document_ids"])
                .values_list("pk", flat=True)
            )
            if visible != set(values["document_ids"]):
                raise ValidationFailed("Some document ids do not exist.")
        filters = SearchFilters(
            tickers=tuple(values["tickers"]),
            company_ids=tuple(values["company_ids"]),
            doc_types=tuple(values["doc_types"]),
            fiscal_years=tuple(values["fiscal_years"]),
            fiscal_periods=tuple(values["fiscal_periods"]),
            date_from=values.get("date_from"),
            date_to=values.get("date_to"),
            document_ids=tuple(values["document_ids"]),
        )
        result = selectors.chunk_search(
            tenant=self.tenant,
            query=values["query"],
            k=values["k"],
            filters=filters,
            auto_scope=values["auto_scope"],
        )
        self.usage_record(operation="search", input_tokens=minilm_token_count(values["query"]))
        return Response(
            {
                "scope": result.scope.as_dict(),
                "embedding_model": result.embedding_model,
                "hits": SearchHitSerializer(result.hits, many=True).data,
            }
        )
