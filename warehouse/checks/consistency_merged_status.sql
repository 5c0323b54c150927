-- Entities whose status and merged_into disagree: 'merged' without a target, or a target on
-- an entity that is not merged.
-- severity: error
-- fix: run `sonoharvest resolve`; it writes status and merged_into together.
SELECT entity_id, status, merged_into
FROM entities
WHERE (status = 'merged' AND merged_into IS NULL)
   OR (status <> 'merged' AND merged_into IS NOT NULL)
ORDER BY ALL;
