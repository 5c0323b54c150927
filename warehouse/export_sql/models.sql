-- models.parquet, schema version 1: one row per model entity (columns: README "Exports").
SELECT * EXCLUDE (kind, used_by_models), kind FROM v_entities
WHERE kind = 'model' ORDER BY entity_id
