CREATE OR REPLACE VIEW v_records AS
SELECT
    r.source,
    r.source_id,
    r.item_type,
    r.kind_hint,
    r.title,
    r.description,
    r.url,
    r.doi,
    r.license,
    r.status,
    r.withdrawn_at,
    r.first_seen,
    r.last_seen,
    r.last_changed,
    (SELECT count(*) FROM record_versions v
      WHERE v.source = r.source AND v.source_id = r.source_id) AS versions
FROM source_records r;
