-- Records whose current content has no row in record_versions (every stored content must
-- have its history row: save_batch writes both in one transaction).
-- severity: error
-- fix: add the missing rows with INSERT INTO record_versions SELECT source, source_id,
--   content_hash, last_changed, NULL FROM source_records r WHERE NOT EXISTS (SELECT 1 FROM
--   record_versions v WHERE v.source = r.source AND v.source_id = r.source_id
--   AND v.content_hash = r.content_hash).
SELECT r.source, r.source_id, r.content_hash,
       (SELECT count(*) FROM record_versions v
        WHERE v.source = r.source AND v.source_id = r.source_id) AS versions
FROM source_records r
WHERE NOT EXISTS (SELECT 1 FROM record_versions v
                  WHERE v.source = r.source AND v.source_id = r.source_id
                    AND v.content_hash = r.content_hash)
ORDER BY ALL;
