-- Harvested records, their content history, cursors, runs, quarantine and HTTP validators.

CREATE TABLE source_records (
    source        VARCHAR NOT NULL,
    source_id     VARCHAR NOT NULL,
    item_type     VARCHAR NOT NULL,
    kind_hint     VARCHAR NOT NULL,
    title         VARCHAR NOT NULL,
    description   VARCHAR,
    url           VARCHAR,
    doi           VARCHAR,
    license       VARCHAR,
    record        JSON NOT NULL,          -- the mapped Record
    raw           JSON NOT NULL,          -- the payload exactly as the API sent it
    content_hash  VARCHAR NOT NULL,
    status        VARCHAR NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'withdrawn')),
    withdrawn_at  TIMESTAMPTZ,
    first_seen    TIMESTAMPTZ NOT NULL,
    last_seen     TIMESTAMPTZ NOT NULL,
    last_changed  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, source_id)
);

-- One row per distinct content a record has had: its history of content hashes.
CREATE TABLE record_versions (
    source        VARCHAR NOT NULL,
    source_id     VARCHAR NOT NULL,
    content_hash  VARCHAR NOT NULL,
    first_seen    TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR,
    PRIMARY KEY (source, source_id, content_hash)
);

-- Incremental state: one cursor per source and key (a query, a slice, a repository...).
CREATE TABLE harvest_cursors (
    source      VARCHAR NOT NULL,
    key         VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, key)
);

CREATE TABLE runs (
    run_id       VARCHAR PRIMARY KEY,
    command      VARCHAR NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ,
    status       VARCHAR NOT NULL CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    counts       JSON NOT NULL DEFAULT '{}',   -- {stage: {counter: n}}
    errors       JSON NOT NULL DEFAULT '[]'    -- [{stage, source, message}]
);

-- Items that could not be mapped or stored; kept with the reason, never silently dropped.
CREATE TABLE quarantine (
    source          VARCHAR NOT NULL,
    item_key        VARCHAR NOT NULL,     -- source id when known, else a hash of the payload
    run_id          VARCHAR,
    reason          VARCHAR NOT NULL,
    payload         JSON,
    quarantined_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, item_key)
);

-- ETag / Last-Modified of URLs fetched before, for conditional re-fetches.
CREATE TABLE http_validators (
    url            VARCHAR PRIMARY KEY,
    etag           VARCHAR,
    last_modified  VARCHAR,
    updated_at     TIMESTAMPTZ NOT NULL
);
