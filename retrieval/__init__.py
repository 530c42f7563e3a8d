"""Documents, ingestion (parse, chunk, embed) and hybrid pgvector search inside Postgres."""
