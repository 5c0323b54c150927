-- Entities whose merged_into redirects lead back to themselves (a loop: following the
-- redirect never ends at a live entity).
-- severity: error
-- fix: break the loop by reviving the entity that should survive:
--   UPDATE entities SET merged_into = NULL, status = 'active' WHERE entity_id = 'ID';
--   then run `sonoharvest resolve`.
WITH RECURSIVE walk(start_id, current_id, path) AS (
    SELECT entity_id, merged_into, [entity_id]
    FROM entities WHERE merged_into IS NOT NULL
    UNION ALL
    SELECT w.start_id, e.merged_into, list_append(w.path, w.current_id)
    FROM walk w JOIN entities e ON e.entity_id = w.current_id
    WHERE e.merged_into IS NOT NULL AND NOT list_contains(w.path, w.current_id)
)
SELECT DISTINCT start_id AS entity_id, array_to_string(path, ' -> ') AS loop
FROM walk
WHERE current_id = start_id
ORDER BY ALL;
