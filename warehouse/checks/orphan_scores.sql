-- Scores of an entity id missing from entities.
-- severity: error
-- fix: entity ids are never deleted, so the entity was lost: restore from a backup; or drop
--   the stray history with DELETE FROM scores s WHERE NOT EXISTS (SELECT 1 FROM entities e
--   WHERE e.entity_id = s.entity_id).
SELECT s.entity_id, count(*) AS scores, max(s.scored_at) AS last_scored
FROM scores s
WHERE NOT EXISTS (SELECT 1 FROM entities e WHERE e.entity_id = s.entity_id)
GROUP BY ALL
ORDER BY ALL;
