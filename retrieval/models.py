"""Companies, documents (tenant-owned or in the shared library), their chunks with vectors, and the
embedding cache."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from accounts.models import Tenant
from retrieval.finance.lexicon import PageType

MINILM_DIMENSIONS = 384
OPENAI_SMALL_DIMENSIONS = 1536


FISCAL_PERIODS = ("FY", "Q1", "Q2", "Q3", "Q4")


class Company(models.Model):
    """An entry of the company directory that scopes questions.

    tenant null: the trusted directory, changed only by staff and by shared-library ingestion.
    Otherwise a company that only this tenant's uploads named; no other tenant sees it.
    """

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="companies"
    )
    name = models.CharField(max_length=200)
    ticker = models.CharField(max_length=16, blank=True, db_index=True)
    cik = models.CharField(max_length=16, blank=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ("name",)
        constraints = [
            models.UniqueConstraint(
                fields=("cik",),
                condition=~models.Q(cik="") & models.Q(tenant__isnull=True),
                name="company_unique_cik_trusted",
            ),
            models.UniqueConstraint(
                fields=("tenant", "cik"),
                condition=~models.Q(cik="") & models.Q(tenant__isnull=False),
                name="company_unique_cik_per_tenant",
            ),
        ]
        indexes = [models.Index(fields=("tenant", "ticker"), name="company_tenant_ticker")]

    def __str__(self) -> str:
        return f"{self.name} ({self.ticker})" if self.ticker else self.name


class CompanyAlias(models.Model):
    """Another name of a company, and who may use it to scope questions.

    tenant null: a trusted alias (staff, the shared library) every tenant's questions match.
    Otherwise only that tenant's questions match it. document: the upload that brought it;
    deleting that document removes the alias.
    """

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="alias_set")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True)
    document = models.ForeignKey(
        "Document", on_delete=models.CASCADE, null=True, blank=True, related_name="company_aliases"
    )
    alias = models.CharField(max_length=100)

    class Meta:
        verbose_name_plural = "company aliases"
        constraints = [
            models.UniqueConstraint(
                fields=("company", "tenant", "document", "alias"),
                nulls_distinct=False,
                name="company_alias_unique",
            ),
        ]
        indexes = [models.Index(fields=("tenant", "company"), name="company_alias_tenant")]

    def __str__(self) -> str:
        return self.alias


class Document(models.Model):
    """One filing. tenant is null for the shared library that every tenant can read."""

    class DocType(models.TextChoices):
        FORM_10K = "10-K", "10-K annual report"
        FORM_10Q = "10-Q", "10-Q quarterly report"
        FORM_8K = "8-K", "8-K current report"
        EARNINGS_RELEASE = "earnings_release", "Earnings release"
        EARNINGS_CALL = "earnings_call", "Earnings call transcript"
        ANNUAL_REPORT = "annual_report", "Annual report"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="documents"
    )
    title = models.CharField(max_length=300)
    company = models.ForeignKey(
        Company, on_delete=models.SET_NULL, null=True, blank=True, related_name="documents"
    )
    ticker = models.CharField(max_length=16, blank=True)
    doc_type = models.CharField(max_length=32, choices=DocType.choices, default=DocType.OTHER)
    fiscal_year = models.PositiveSmallIntegerField(null=True, blank=True)
    fiscal_period = models.CharField(max_length=4, blank=True, help_text="FY, Q1, Q2, Q3 or Q4")
    period_end = models.DateField(null=True, blank=True)
    filing_date = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=300, help_text="The original file name")
    source_url = models.URLField(max_length=500, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.BigIntegerField()
    page_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    progress = models.PositiveSmallIntegerField(default=0)
    ingest_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Deliveries of the current ingestion job (bounded by settings)"
    )
    embedding_model = models.CharField(max_length=100, blank=True)
    chunk_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)
        permissions = [("upload_for_tenant", "Can upload documents into a tenant's library")]
        constraints = [
            models.UniqueConstraint(
                fields=("tenant", "sha256"),
                condition=models.Q(tenant__isnull=False),
                name="document_unique_sha256_per_tenant",
            ),
            models.UniqueConstraint(
                fields=("sha256",),
                condition=models.Q(tenant__isnull=True),
                name="document_unique_sha256_shared",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="document_progress_max_100"
            ),
        ]
        indexes = [
            models.Index(fields=("tenant", "status"), name="document_tenant_status"),
            models.Index(
                fields=("tenant", "ticker", "fiscal_year"), name="document_tenant_ticker_fy"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class DocumentFile(models.Model):
    """The uploaded bytes, kept in Postgres so any worker can (re)parse them without shared disk."""

    document = models.OneToOneField(Document, on_delete=models.CASCADE, related_name="file")
    data = models.BinaryField()

    def __str__(self) -> str:
        return f"file of document {self.document_id}"


class Chunk(models.Model):
    """A passage of a document with its pages, section, vector and full-text vector.

    tenant is copied from the document so the tenant filter and the vector search are one
    statement; embedding_model keeps vectors of two models from ever being compared.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    header = models.CharField(max_length=500, blank=True)
    section = models.CharField(max_length=200, blank=True)
    page_start = models.PositiveIntegerField()
    page_end = models.PositiveIntegerField()
    token_count = models.PositiveIntegerField()
    embedding_model = models.CharField(max_length=100)
    embedding = VectorField(dimensions=MINILM_DIMENSIONS, null=True, blank=True)
    embedding_1536 = VectorField(dimensions=OPENAI_SMALL_DIMENSIONS, null=True, blank=True)
    search_vector = SearchVectorField(null=True)
    # What the chunk's page is (a financial statement, notes, MD&A...), from retrieval.finance.
    page_type = models.CharField(
        max_length=32,
        choices=[(t.value, t.value.replace("_", " ")) for t in PageType],
        blank=True,
        default="",
        db_default="",
    )

    class Meta:
        ordering = ("document_id", "ordinal")
        constraints = [
            models.UniqueConstraint(fields=("document", "ordinal"), name="chunk_unique_ordinal"),
        ]
        indexes = [
            models.Index(fields=("tenant", "document"), name="chunk_tenant_document"),
            models.Index(fields=("document", "page_type"), name="chunk_document_page_type"),
            HnswIndex(
                name="chunk_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            HnswIndex(
                name="chunk_embedding1536_hnsw",
                fields=["embedding_1536"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="chunk_search_vector_gin"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal} p.{self.page_start}"


class EmbeddingCacheEntry(models.Model):
    """A vector per (model, sha256 of the text): unchanged text is never embedded twice."""

    model = models.CharField(max_length=100)
    text_sha256 = models.CharField(max_length=64)
    embedding = VectorField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("model", "text_sha256"), name="embedding_cache_key"),
        ]

    def __str__(self) -> str:
        return f"{self.model}:{self.text_sha256[:12]}"


class CorpusVersion(models.Model):
    """Bumped whenever a tenant's searchable corpus changes (tenant null: the shared library);
    the answer cache keys on it so stale answers are never served."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, null=True, blank=True)
    version = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("tenant",),
                condition=models.Q(tenant__isnull=True),
                name="corpus_version_one_shared_row",
            ),
        ]

    def __str__(self) -> str:
        return f"corpus of {self.tenant_id or 'shared library'} v{self.version}"
