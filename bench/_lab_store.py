"""Retrieval lab storage: an on-disk embedding cache and a private Postgres with pgvector."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bench._lab_corpus import WORK, LabDoc
from retrieval.chunking import Chunk
from retrieval.embeddings import get_embedder

PG_DIR = WORK / "pg"


class EmbeddingCache:
    """Vectors keyed by sha256(model, text), so re-running an idea never re-embeds."""

    def __init__(self, model: str = "all-MiniLM-L6-v2") -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.db = sqlite3.connect(WORK / "embeddings.sqlite")
        self.db.execute("CREATE TABLE IF NOT EXISTS emb (key TEXT PRIMARY KEY, vec BLOB)")
        self.embedded = 0
        self.seconds = 0.0

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.model}\x00{text}".encode()).hexdigest()

    def get_many(self, texts: Sequence[str], *, batch: int = 256) -> np.ndarray:
        keys = [self._key(t) for t in texts]
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            part = keys[start : start + 500]
            marks = ",".join("?" * len(part))
            for key, blob in self.db.execute(
                f"SELECT key, vec FROM emb WHERE key IN ({marks})", part
            ):
                found[key] = np.frombuffer(blob, dtype=np.float32)
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in found}.items())
        if missing:
            embedder = get_embedder(self.model)
            for start in range(0, len(missing), batch):
                part = missing[start : start + batch]
                began = time.perf_counter()
                vectors = embedder.embed_documents([t for _, t in part])
                self.seconds += time.perf_counter() - began
                self.embedded += len(part)
                rows = []
                for (key, _), vector in zip(part, vectors, strict=True):
                    array = np.asarray(vector, dtype=np.float32)
                    found[key] = array
                    rows.append((key, array.tobytes()))
                self.db.executemany("INSERT OR REPLACE INTO emb VALUES (?, ?)", rows)
                self.db.commit()
        return np.stack([found[k] for k in keys])


def connect():  # type: ignore[no-untyped-def]
    import pgserver
    import psycopg
    from pgvector.psycopg import register_vector

    server = pgserver.get_server(str(PG_DIR), cleanup_mode=None)
    server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    conn = psycopg.connect(server.get_uri(), autocommit=True)
    register_vector(conn)
    return conn


@dataclass(frozen=True)
class StoredChunk:
    doc: LabDoc
    chunk: Chunk
    header: str


def load_variant(conn, name: str, rows: Sequence[StoredChunk], vectors: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """(Re)create lab schema `name`: documents + chunks shaped like retrieval.models, indexed
    like production (HNSW cosine on the vector, GIN on the tsvector)."""
    schema = f"lab_{name}"
    conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(
        f"""CREATE TABLE {schema}.document (
            id serial PRIMARY KEY, tenant_id int NOT NULL, name text UNIQUE, title text,
            company_id int, ticker text, doc_type text, fiscal_year int, fiscal_period text)"""
    )
    conn.execute(
        f"""CREATE TABLE {schema}.chunk (
            id serial PRIMARY KEY, tenant_id int NOT NULL,
            document_id int REFERENCES {schema}.document(id), ordinal int, text text,
            header text, section text, page_start int, page_end int, token_count int,
            embedding vector(384), search_vector tsvector)"""
    )
    doc_ids: dict[str, int] = {}
    for row in rows:
        doc = row.doc
        if doc.doc_id in doc_ids:
            continue
        doc_ids[doc.doc_id] = conn.execute(
            f"""INSERT INTO {schema}.document
                (tenant_id, name, title, company_id, ticker, doc_type, fiscal_year, fiscal_period)
                VALUES (1, %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (
                doc.doc_id,
                f"{doc.company.name} Form {doc.form} {doc.period}",
                doc.company.id,
                doc.company.ticker,
                doc.form,
                doc.fiscal_year,
                f"Q{doc.fiscal_quarter}" if doc.fiscal_quarter else "FY",
            ),
        ).fetchone()[0]
    with conn.cursor() as cur:
        cur.executemany(
            f"""INSERT INTO {schema}.chunk (tenant_id, document_id, ordinal, text, header, section,
                page_start, page_end, token_count, embedding, search_vector)
                VALUES (1, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                  setweight(to_tsvector('english', %s), 'A')
                  || setweight(to_tsvector('english', %s), 'B'))""",
            [
                (
                    doc_ids[r.doc.doc_id],
                    r.chunk.ordinal,
                    r.chunk.text,
                    r.header,
                    r.chunk.section,
                    min(r.chunk.pages),
                    max(r.chunk.pages),
                    r.chunk.token_count,
                    vec,
                    r.header,
                    r.chunk.text,
                )
                for r, vec in zip(rows, vectors, strict=True)
            ],
        )
    conn.execute(
        f"CREATE INDEX ON {schema}.chunk USING hnsw (embedding vector_cosine_ops) "
        "WITH (m = 16, ef_construction = 64)"
    )
    conn.execute(f"CREATE INDEX ON {schema}.chunk USING gin (search_vector)")
    conn.execute(f"CREATE INDEX ON {schema}.chunk (tenant_id, document_id)")
    conn.execute(f"ANALYZE {schema}.chunk")
    conn.execute(f"ANALYZE {schema}.document")
