"""Django admin: stored traces (one row per question, each opening as a span tree on a timeline)
and the alert notifications Alertmanager delivered."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from monitoring.models import AlertNotification, TraceSpan
from monitoring.selectors import trace_spans, trace_timeline
from monitoring.tracing import (
    GEN_AI_INPUT_TOKENS,
    GEN_AI_OUTPUT_TOKENS,
    GEN_AI_RESPONSE_MODEL,
    TAG_COMPLEXITY,
    TAG_COST,
    TAG_PROVIDER,
)

# Attributes shown as columns of the root row; everything else appears in the span's details.
SUMMARY_ATTRIBUTES = (
    TAG_PROVIDER,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_INPUT_TOKENS,
    GEN_AI_OUTPUT_TOKENS,
    TAG_COST,
    TAG_COMPLEXITY,
)


class RootSpanFilter(admin.SimpleListFilter):
    title = "spans"
    parameter_name = "spans"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("all", "All spans")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[TraceSpan]) -> QuerySet[TraceSpan]:
        # Questions (root spans) by default; every span on request.
        if self.value() == "all":
            return queryset
        return queryset.filter(parent_span_id="")


@admin.register(TraceSpan)
class TraceSpanAdmin(admin.ModelAdmin):
    list_display = (
        "start_time",
        "name",
        "provider",
        "status",
        "duration",
        "tenant_id",
        "conversation_id",
        "trace_link",
    )
    list_filter = (RootSpanFilter, "status")
    search_fields = ("=trace_id", "=query_id", "=conversation_id", "=tenant_id", "name")
    date_hierarchy = "start_time"
    ordering = ("-start_time",)
    list_per_page = 50

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="provider")
    def provider(self, obj: TraceSpan) -> str:
        return str(obj.attributes.get(TAG_PROVIDER, ""))

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, obj: TraceSpan) -> str:
        return f"{obj.duration_ms:,.1f} ms"

    @admin.display(description="trace")
    def trace_link(self, obj: TraceSpan) -> str:
        url = reverse("admin:monitoring_tracespan_trace", args=[obj.trace_id])
        return format_html('<a href="{}">timeline</a>', url)

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "trace/<str:trace_id>/",
                self.admin_site.admin_view(self.trace_view),
                name="monitoring_tracespan_trace",
            )
        ]
        return custom + super().get_urls()

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        span = TraceSpan.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if span is None or not self.has_view_permission(request, span):
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(
            reverse("admin:monitoring_tracespan_trace", args=[span.trace_id])
        )

    def trace_view(self, request: HttpRequest, trace_id: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise Http404("Trace not found.")
        spans = list(trace_spans(trace_id=trace_id))
        if not spans:
            raise Http404("Trace not found.")
        rows = trace_timeline(spans)
        root = rows[0].span
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": f"Trace {trace_id}",
            "trace_id": trace_id,
            "root": root,
            "rows": rows,
            "summary": [
                (key, root.attributes[key]) for key in SUMMARY_ATTRIBUTES if key in root.attributes
            ],
            "total_ms": max(s.duration_ms for s in spans),
        }
        return TemplateResponse(request, "admin/monitoring/tracespan/trace.html", context)


@admin.register(AlertNotification)
class AlertNotificationAdmin(admin.ModelAdmin):
    """Alerts Alertmanager delivered to the product, newest first; read-only."""

    list_display = (
        "last_received_at",
        "alertname",
        "status",
        "severity",
        "tenant",
        "summary",
        "deliveries",
        "emailed_at",
    )
    list_filter = ("status", "severity", "alertname")
    search_fields = ("alertname", "tenant", "summary", "=fingerprint")
    date_hierarchy = "last_received_at"
    ordering = ("-last_received_at",)
    readonly_fields = (
        "alertname",
        "status",
        "severity",
        "tenant",
        "summary",
        "labels",
        "annotations",
        "starts_at",
        "ends_at",
        "generator_url",
        "receiver",
        "fingerprint",
        "deliveries",
        "first_received_at",
        "last_received_at",
        "emailed_at",
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
