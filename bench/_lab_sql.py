"""The hybrid candidate statement the lab measures (the shape to port into the selector)."""

from __future__ import annotations

# One statement: scope documents (tenant + metadata), take the nearest chunks by cosine
# distance (HNSW) and the best full-text matches, and fuse the two rankings with weighted
# reciprocal rank fusion. %(tsquery_mode)s picks how the question becomes a tsquery.
HYBRID_SQL = """
WITH params AS (
    SELECT %(qvec)s::vector AS qvec,
           CASE %(tsquery_mode)s
             WHEN 'and' THEN plainto_tsquery('english', %(qtext)s)
             WHEN 'web' THEN websearch_to_tsquery('english', %(qtext)s)
             ELSE replace(plainto_tsquery('english', %(qtext)s)::text, ' & ', ' | ')::tsquery
           END AS qts
),
scoped_documents AS (
    SELECT id FROM (
        SELECT d.id,
               rank() OVER (PARTITION BY d.company_id
                            ORDER BY d.fiscal_year DESC, d.fiscal_period DESC) AS recency
        FROM {schema}.document d
        WHERE d.tenant_id = %(tenant_id)s
          AND (%(document_ids)s::int[] IS NULL OR d.id = ANY(%(document_ids)s::int[]))
          AND (%(company_ids)s::int[] IS NULL OR d.company_id = ANY(%(company_ids)s::int[]))
          AND (%(year_min)s::int IS NULL OR d.fiscal_year BETWEEN %(year_min)s AND %(year_max)s)
          AND (%(periods)s::text[] IS NULL
               OR (d.fiscal_year::text || ' ' || d.fiscal_period) = ANY(%(periods)s::text[]))
    ) ranked
    WHERE NOT %(latest)s OR recency = 1
),
dense AS (
    SELECT c.id, c.embedding <=> p.qvec AS distance
    FROM {schema}.chunk c, params p
    WHERE c.tenant_id = %(tenant_id)s
      AND c.document_id IN (SELECT id FROM scoped_documents)
    ORDER BY c.embedding <=> p.qvec
    LIMIT %(k_dense)s
),
dense_ranked AS (
    SELECT id, distance, row_number() OVER (ORDER BY distance) AS rnk FROM dense
),
lexical AS (
    SELECT c.id, ts_rank_cd(c.search_vector, p.qts, %(rank_norm)s) AS text_rank
    FROM {schema}.chunk c, params p
    WHERE c.tenant_id = %(tenant_id)s
      AND c.document_id IN (SELECT id FROM scoped_documents)
      AND c.search_vector @@ p.qts
    ORDER BY text_rank DESC
    LIMIT %(k_lexical)s
),
lexical_ranked AS (
    SELECT id, text_rank, row_number() OVER (ORDER BY text_rank DESC) AS rnk FROM lexical
)
SELECT c.id, c.document_id, d.name, c.page_start, c.page_end, c.section, c.text, c.header,
       1 - dr.distance AS vector_score, lr.text_rank AS text_score,
       COALESCE(%(w_dense)s / (%(rrf_k)s + dr.rnk), 0)
         + COALESCE(%(w_lexical)s / (%(rrf_k)s + lr.rnk), 0) AS score
FROM dense_ranked dr
FULL OUTER JOIN lexical_ranked lr ON lr.id = dr.id
JOIN {schema}.chunk c ON c.id = COALESCE(dr.id, lr.id)
JOIN {schema}.document d ON d.id = c.document_id
ORDER BY score DESC, c.id
LIMIT %(k_out)s
"""
