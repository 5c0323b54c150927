-- Member records of an entity that is merged or retired (its copies should have moved).
-- severity: error
-- fix: run `sonoharvest resolve`: it reassigns every record to a live entity.
SELECT m.source, m.source_id, m.entity_id, e.status
FROM entity_members m JOIN entities e USING (entity_id)
WHERE e.status NOT IN ('active', 'withdrawn')
ORDER BY ALL;
