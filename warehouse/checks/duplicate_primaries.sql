-- Entities with more than one primary member (role = 'primary').
-- severity: error
-- fix: run `sonoharvest resolve`: it chooses exactly one primary copy per entity.
SELECT entity_id, count(*) AS primaries,
       string_agg(source || ':' || source_id, ', ' ORDER BY source, source_id) AS records
FROM entity_members
WHERE role = 'primary'
GROUP BY entity_id
HAVING count(*) > 1
ORDER BY ALL;
