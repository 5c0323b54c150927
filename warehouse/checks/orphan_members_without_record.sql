-- Entity members whose record is missing from source_records.
-- severity: error
-- fix: run `sonoharvest resolve`: it rewrites every membership from the stored records and
--   drops members whose record is gone. Records are never deleted, so if this persists
--   restore the warehouse from a backup (`sonoharvest restore`).
SELECT m.source, m.source_id, m.entity_id
FROM entity_members m
WHERE NOT EXISTS (SELECT 1 FROM source_records r
                  WHERE r.source = m.source AND r.source_id = m.source_id)
ORDER BY ALL;
