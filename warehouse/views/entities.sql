-- One row per catalogued entity with its current score: what datasets.parquet and
-- models.parquet export. Entities merged away or retired are left out (their ids redirect),
-- and so are entities a curator rejected.
CREATE OR REPLACE VIEW v_entities AS
SELECT
    e.entity_id,
    e.name,
    e.facts->>'description'                                       AS description,
    e.kind,
    e.status,
    e.facts->>'primary_url'                                       AS primary_url,
    from_json(e.facts->'urls', '["VARCHAR"]')                     AS urls,
    e.facts->>'doi'                                               AS doi,
    from_json(e.facts->'sources', '["VARCHAR"]')                  AS sources,
    from_json(e.facts->'source_ids', '["VARCHAR"]')               AS source_ids,
    CAST(e.facts->>'n_copies' AS INTEGER)                         AS n_copies,
    e.facts->>'license'                                           AS license,
    e.facts->>'license_class'                                     AS license_class,
    e.facts->>'access'                                            AS access,
    from_json(e.facts->'anatomy', '["VARCHAR"]')                  AS anatomy,
    from_json(e.facts->'tasks', '["VARCHAR"]')                    AS tasks,
    CAST(e.facts->>'relevance' AS DOUBLE)                         AS relevance,
    coalesce(r.state, 'unreviewed')                               AS review_status,
    s.score,
    s.tier,
    s.auto_tier,
    s.override_reason,
    s.rubric_id,
    s.rubric_version,
    CAST(e.facts->'size'->>'images' AS BIGINT)                    AS size_images,
    CAST(e.facts->'size'->>'videos' AS BIGINT)                    AS size_videos,
    CAST(e.facts->'size'->>'patients' AS BIGINT)                  AS size_patients,
    from_json(e.facts->'papers', '["VARCHAR"]')                   AS papers,
    from_json(e.facts->'datasets', '["VARCHAR"]')                 AS uses_datasets,
    from_json(e.facts->'used_by', '["VARCHAR"]')                  AS used_by_models,
    from_json(e.facts->'weights', '["VARCHAR"]')                  AS weights,
    CAST(e.facts->'link'->>'ok' AS BOOLEAN)                       AS link_ok,
    CAST(e.facts->'link'->>'status' AS INTEGER)                   AS link_status,
    CAST(e.facts->>'created_at' AS TIMESTAMPTZ)                   AS created_at,
    CAST(e.facts->>'updated_at' AS TIMESTAMPTZ)                   AS updated_at,
    CAST(e.facts->>'first_seen' AS TIMESTAMPTZ)                   AS first_seen,
    CAST(e.facts->>'last_seen' AS TIMESTAMPTZ)                    AS last_seen,
    e.updated_at                                                  AS entity_updated_at
FROM entities e
LEFT JOIN v_current_scores s USING (entity_id)
LEFT JOIN review_states r ON r.item_id = e.entity_id
WHERE e.status IN ('active', 'withdrawn') AND coalesce(r.state, '') <> 'rejected';
