-- Curator tier overrides of an entity id missing from entities.
-- severity: warning
-- fix: the override can never apply. Check the id with `sonoharvest show ID`; clear it with
--   UPDATE score_overrides SET cleared_at = now() WHERE entity_id = 'ID' AND cleared_at IS NULL.
SELECT o.entity_id, o.tier, o.who, o.created_at
FROM score_overrides o
WHERE o.cleared_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM entities e WHERE e.entity_id = o.entity_id)
ORDER BY ALL;
