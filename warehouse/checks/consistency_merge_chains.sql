-- Entities merged into an entity that was itself merged away (a chain of redirects).
-- Readers that follow one redirect (`show` follows all of them) land on a dead id.
-- severity: warning
-- fix: point each at the end of its chain: UPDATE entities SET merged_into = 'FINAL' WHERE
--   entity_id = 'ID'.
SELECT e.entity_id, e.merged_into, t.merged_into AS then_into
FROM entities e JOIN entities t ON t.entity_id = e.merged_into
WHERE t.merged_into IS NOT NULL
ORDER BY ALL;
