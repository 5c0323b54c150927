-- Relevance models: once any model is trained, exactly one must be active.
-- severity: error
-- fix: `sonoharvest relevance models` lists them; keep the best one active with
--   UPDATE relevance_models SET active = (version = N).
SELECT count(*) AS models, count(*) FILTER (WHERE active) AS active_models
FROM relevance_models
HAVING count(*) > 0 AND count(*) FILTER (WHERE active) <> 1;
