-- Quality scores (SonoDQS for datasets, SonoMQS for models), the curator's overrides and the
-- survey's published catalogue for calibration.

-- Append-only: a row is added whenever an entity's facts or its rubric change, so a tier
-- change stays visible in the history.
CREATE TABLE scores (
    entity_id       VARCHAR NOT NULL,
    rubric_id       VARCHAR NOT NULL,
    rubric_version  INTEGER NOT NULL,
    rubric_hash     VARCHAR NOT NULL,
    facts_hash      VARCHAR NOT NULL,
    score           DOUBLE NOT NULL,
    tier            VARCHAR NOT NULL,
    criteria        JSON NOT NULL,            -- per criterion: weight, credit, points, evidence
    scored_at       TIMESTAMPTZ NOT NULL,
    run_id          VARCHAR
);
CREATE INDEX scores_entity ON scores (entity_id, scored_at);

-- A curator's tier for an entity, with the reason; wins over the automatic tier until cleared.
CREATE TABLE score_overrides (
    entity_id    VARCHAR NOT NULL,
    tier         VARCHAR NOT NULL,
    reason       VARCHAR NOT NULL,
    who          VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    cleared_at   TIMESTAMPTZ
);

-- ../shared/seed/paper_catalogue.csv: the survey's 72 datasets, linked to entities.
CREATE TABLE seed_catalogue (
    row_number       INTEGER PRIMARY KEY,
    name             VARCHAR NOT NULL,
    anatomy          VARCHAR,
    size             VARCHAR,
    access_type      VARCHAR,
    tier             VARCHAR,
    tier_rank        INTEGER,
    entity_id        VARCHAR,                 -- NULL: not (yet) harvested
    match_evidence   VARCHAR,
    imported_at      TIMESTAMPTZ NOT NULL
);
