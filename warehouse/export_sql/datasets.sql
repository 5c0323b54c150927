-- datasets.parquet, schema version 1: one row per dataset entity (columns: README "Exports").
SELECT * EXCLUDE (kind, uses_datasets, weights), kind FROM v_entities
WHERE kind = 'dataset' ORDER BY entity_id
