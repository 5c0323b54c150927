-- Records per source and status.
-- severity: info
-- fix: nothing to fix: a summary.
SELECT source, status, count(*) AS n
FROM source_records
GROUP BY ALL
ORDER BY ALL;
