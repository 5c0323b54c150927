-- Classifications of a record that is missing from source_records.
-- severity: error
-- fix: records are never deleted, so the record was lost: restore from a backup; or, to keep
--   the warehouse as it is, DELETE FROM classifications c WHERE NOT EXISTS (SELECT 1 FROM
--   source_records r WHERE r.source = c.source AND r.source_id = c.source_id).
SELECT c.source, c.source_id, c.model_version
FROM classifications c
WHERE NOT EXISTS (SELECT 1 FROM source_records r
                  WHERE r.source = c.source AND r.source_id = c.source_id)
ORDER BY ALL;
