-- Runs still marked 'running', without a finish time, that started more than a day ago.
-- The process was killed or crashed. Nothing is lost (each batch is stored with its cursor in
-- one transaction, so the next run resumes), but the run log is wrong.
-- severity: warning
-- fix: UPDATE runs SET status = 'failed', finished_at = now() WHERE run_id = 'ID'
--   (after making sure no sonoharvest process is still running).
SELECT run_id, command, started_at
FROM runs
WHERE status = 'running' AND finished_at IS NULL
  AND started_at < now() - INTERVAL 1 DAY
ORDER BY ALL;
