-- Entity members that belong to an entity id missing from entities.
-- severity: error
-- fix: run `sonoharvest resolve`: it stores every entity together with its members in one
--   transaction, so the members are reassigned to entities that exist.
SELECT m.source, m.source_id, m.entity_id
FROM entity_members m
WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.entity_id = m.entity_id)
ORDER BY ALL;
