-- Live entities (status active or withdrawn) without any member record.
-- severity: error
-- fix: run `sonoharvest resolve`: an entity that lost every record is marked merged or
--   retired. If it stays, mark it by hand: UPDATE entities SET status = 'retired' WHERE ...
SELECT e.entity_id, e.kind, e.status, e.name
FROM entities e
WHERE e.status IN ('active', 'withdrawn')
  AND NOT EXISTS (SELECT 1 FROM entity_members m WHERE m.entity_id = e.entity_id)
ORDER BY ALL;
