-- Content history (record_versions) of a record that is missing from source_records.
-- severity: error
-- fix: records are never deleted, so the record was lost: restore from a backup, or rerun the
--   harvest of that source with `sonoharvest harvest --source NAME --full` to fetch it again.
SELECT v.source, v.source_id, count(*) AS versions
FROM record_versions v
WHERE NOT EXISTS (SELECT 1 FROM source_records r
                  WHERE r.source = v.source AND r.source_id = v.source_id)
GROUP BY ALL
ORDER BY ALL;
