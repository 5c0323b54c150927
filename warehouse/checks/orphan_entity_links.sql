-- Links between entities (entity_links) from or to an entity id missing from entities.
-- severity: error
-- fix: run `sonoharvest resolve`: it rewrites every link from the current entities.
SELECT l.entity_id, l.target_id, l.relation
FROM entity_links l
WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.entity_id = l.entity_id)
   OR NOT EXISTS (SELECT 1 FROM entities e WHERE e.entity_id = l.target_id)
ORDER BY ALL;
