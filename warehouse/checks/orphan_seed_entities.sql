-- Rows of the survey's catalogue (seed_catalogue) linked to an entity id missing from entities.
-- severity: warning
-- fix: run `sonoharvest seed` again: it re-links every row to the current entities.
SELECT s.row_number, s.name, s.entity_id
FROM seed_catalogue s
WHERE s.entity_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM entities e WHERE e.entity_id = s.entity_id)
ORDER BY ALL;
