-- records.parquet, schema version 3: one row per harvested source record.
-- v2 adds relevance, relevant, band, review_sample, kind, anatomy, tasks, relevance_model;
-- v3 adds entity_id and entity_role (primary | copy; NULL when in no entity).
SELECT
    r.source,
    r.source_id,
    r.source || ':' || r.source_id  AS record_key,
    m.entity_id,
    m.role                          AS entity_role,
    r.item_type,
    r.kind_hint,
    r.title,
    r.description,
    r.url,
    r.doi,
    r.license,
    c.relevance,
    c.relevant,
    c.band,
    c.review_sample,
    c.kind,
    c.anatomy,
    c.tasks,
    c.model_version                 AS relevance_model,
    r.status,
    r.withdrawn_at,
    r.content_hash,
    r.first_seen,
    r.last_seen,
    r.last_changed
FROM source_records r
LEFT JOIN classifications c
       ON c.source = r.source AND c.source_id = r.source_id AND c.content_hash = r.content_hash
LEFT JOIN entity_members m ON m.source = r.source AND m.source_id = r.source_id
ORDER BY r.source, r.source_id
