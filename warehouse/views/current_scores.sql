-- Views are created in file-name order: this one must come before entities.sql.
-- The current score of each entity (its latest row) with any active curator override applied.
CREATE OR REPLACE VIEW v_current_scores AS
WITH latest AS (
    SELECT * FROM scores
    QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY scored_at DESC, rubric_version DESC) = 1
), overrides AS (
    SELECT * FROM score_overrides WHERE cleared_at IS NULL
    QUALIFY row_number() OVER (PARTITION BY entity_id ORDER BY created_at DESC) = 1
)
SELECT l.entity_id, l.rubric_id, l.rubric_version, l.rubric_hash, l.facts_hash, l.score,
       l.tier AS auto_tier, coalesce(o.tier, l.tier) AS tier, o.reason AS override_reason,
       o.who AS override_by, l.criteria, l.scored_at
FROM latest l LEFT JOIN overrides o USING (entity_id);
