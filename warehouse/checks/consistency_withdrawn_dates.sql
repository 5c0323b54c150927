-- Records whose status and withdrawn_at disagree (withdrawn without a date, or active with one).
-- severity: error
-- fix: the next harvest that sees an active record clears withdrawn_at; otherwise
--   UPDATE source_records SET withdrawn_at = last_seen WHERE status = 'withdrawn' AND
--   withdrawn_at IS NULL (and SET withdrawn_at = NULL for the active ones).
SELECT source, source_id, status, withdrawn_at
FROM source_records
WHERE (status = 'withdrawn' AND withdrawn_at IS NULL)
   OR (status = 'active' AND withdrawn_at IS NOT NULL)
ORDER BY ALL;
