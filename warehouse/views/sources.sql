CREATE OR REPLACE VIEW v_source_summary AS
SELECT
    source,
    count(*) FILTER (WHERE status = 'active')    AS active,
    count(*) FILTER (WHERE status = 'withdrawn') AS withdrawn,
    max(last_seen)                               AS last_seen
FROM source_records
GROUP BY source;
