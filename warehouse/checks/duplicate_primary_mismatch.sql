-- Live entities whose primary_key is not their (single) primary member.
-- severity: warning
-- fix: run `sonoharvest resolve`: it writes primary_key and the member roles together.
SELECT e.entity_id, e.primary_key,
       string_agg(m.source || ':' || m.source_id, ', ') AS primary_members
FROM entities e
LEFT JOIN entity_members m ON m.entity_id = e.entity_id AND m.role = 'primary'
WHERE e.status IN ('active', 'withdrawn')
  AND EXISTS (SELECT 1 FROM entity_members x WHERE x.entity_id = e.entity_id)
GROUP BY e.entity_id, e.primary_key
HAVING count(m.source) = 0
    OR NOT bool_or(m.source || ':' || m.source_id = e.primary_key)
ORDER BY ALL;
