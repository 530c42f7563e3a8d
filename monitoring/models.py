"""Stored trace spans: every span of every question, for the trace view in admin."""

from __future__ import annotations

from django.db import models


class TraceSpan(models.Model):
    """One finished OpenTelemetry span.

    Tenant, conversation and question are plain ids, not foreign keys: monitoring depends on no
    other app, and a trace outlives an archived conversation until it is pruned.
    """

    class Status(models.TextChoices):
        UNSET = "unset", "Unset"
        OK = "ok", "OK"
        ERROR = "error", "Error"

    trace_id = models.CharField(max_length=32)
    span_id = models.CharField(max_length=16)
    parent_span_id = models.CharField(max_length=16, blank=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, default="internal")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.UNSET)
    status_message = models.TextField(blank=True)
    start_time = models.DateTimeField()
    end_time = models.DateTimeField()
    duration_ms = models.FloatField()
    attributes = models.JSONField(default=dict, blank=True)
    events = models.JSONField(default=list, blank=True)
    tenant_id = models.BigIntegerField(null=True, blank=True)
    conversation_id = models.BigIntegerField(null=True, blank=True)
    query_id = models.UUIDField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("start_time", "id")
        constraints = [
            models.UniqueConstraint(fields=("trace_id", "span_id"), name="tracespan_unique_span"),
        ]
        indexes = [
            models.Index(fields=("tenant_id", "-start_time"), name="tracespan_tenant_start"),
            models.Index(fields=("trace_id",), name="tracespan_trace"),
            models.Index(fields=("query_id",), name="tracespan_query"),
            models.Index(fields=("conversation_id",), name="tracespan_conversation"),
            models.Index(fields=("start_time",), name="tracespan_start"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.duration_ms:.1f} ms)"

    @property
    def is_root(self) -> bool:
        return not self.parent_span_id


class AlertNotification(models.Model):
    """One alert as Alertmanager delivered it to the product's webhook, for staff to read.

    One row per alert and firing episode (fingerprint, start time): Alertmanager re-sends a
    firing alert every repeat interval and finally sends it resolved; those deliveries update
    the row instead of adding rows. `tenant` is the alert's tenant label (a slug), empty for
    service-wide alerts; `emailed_at` records that the tenant's admins were told, once.
    """

    class Status(models.TextChoices):
        FIRING = "firing", "Firing"
        RESOLVED = "resolved", "Resolved"

    fingerprint = models.CharField(max_length=64)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=8, choices=Status.choices)
    alertname = models.CharField(max_length=200)
    severity = models.CharField(max_length=32, blank=True)
    tenant = models.CharField(max_length=200, blank=True)
    summary = models.TextField(blank=True)
    labels = models.JSONField(default=dict)
    annotations = models.JSONField(default=dict)
    generator_url = models.URLField(max_length=1000, blank=True)
    receiver = models.CharField(max_length=200, blank=True)
    deliveries = models.PositiveIntegerField(default=1)
    first_received_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField()
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-last_received_at", "-id")
        constraints = [
            models.UniqueConstraint(
                fields=("fingerprint", "starts_at"), name="alertnotification_unique_episode"
            ),
        ]
        indexes = [
            models.Index(fields=("-last_received_at",), name="alertnotif_received"),
            models.Index(fields=("tenant", "-last_received_at"), name="alertnotif_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.alertname} ({self.status})"
