-- Records claimed by more than one live entity (as a member of one and the primary_key of
-- another, or as the primary_key of two). A record belongs to exactly one entity.
-- severity: error
-- fix: run `sonoharvest resolve`; if the record is still claimed twice, merge the entities
--   (`sonoharvest merge INTO OTHER`) or split the record (`sonoharvest split RECORD`).
WITH claims AS (
    SELECT source || ':' || source_id AS record_key, entity_id FROM entity_members
    UNION
    SELECT primary_key, entity_id FROM entities
    WHERE status IN ('active', 'withdrawn') AND primary_key IS NOT NULL
)
SELECT record_key, count(*) AS entities, string_agg(entity_id, ', ' ORDER BY entity_id) AS ids
FROM claims
GROUP BY record_key
HAVING count(*) > 1
ORDER BY ALL;
