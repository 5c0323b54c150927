-- Entities merged into an entity id that does not exist (the redirect leads nowhere).
-- severity: error
-- fix: run `sonoharvest resolve`; if it stays, point the entity at its successor
--   (`sonoharvest show ID` finds it from a record key) or mark it retired:
--   UPDATE entities SET status = 'retired', merged_into = NULL WHERE entity_id = 'ID'.
SELECT e.entity_id, e.status, e.merged_into
FROM entities e
WHERE e.merged_into IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM entities t WHERE t.entity_id = e.merged_into)
ORDER BY ALL;
