-- Entities per kind and status.
-- severity: info
-- fix: nothing to fix: a summary.
SELECT kind, status, count(*) AS n
FROM entities
GROUP BY ALL
ORDER BY ALL;
