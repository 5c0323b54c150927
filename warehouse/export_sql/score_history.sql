-- score_history.parquet, schema version 1: every score ever given (append-only history).
SELECT entity_id, rubric_id, rubric_version, rubric_hash, score, tier, criteria, scored_at,
       run_id
FROM scores ORDER BY entity_id, scored_at
