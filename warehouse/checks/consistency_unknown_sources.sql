-- Cursors, records or quarantined items of a source this version of sonoharvest does not know.
-- $known_sources is the list of sources `sonoharvest check` passes in.
-- severity: warning
-- fix: a source was renamed or removed. Harmless, but its cursors are never used: delete
--   them with DELETE FROM harvest_cursors WHERE source = 'NAME'. Records stay for history.
WITH known AS (SELECT unnest($known_sources::VARCHAR[]) AS source)
SELECT 'harvest_cursors' AS in_table, source, count(*) AS n FROM harvest_cursors
WHERE source NOT IN (SELECT source FROM known) GROUP BY ALL
UNION ALL
SELECT 'source_records', source, count(*) FROM source_records
WHERE source NOT IN (SELECT source FROM known) GROUP BY ALL
UNION ALL
SELECT 'quarantine', source, count(*) FROM quarantine
WHERE source NOT IN (SELECT source FROM known) GROUP BY ALL
ORDER BY ALL;
