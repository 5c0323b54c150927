-- Entities: one row per real-world resource, with its copies, links and curator constraints.

-- An entity id is never reused or deleted. status: active | withdrawn (every copy withdrawn)
-- | merged (its copies now belong to merged_into) | retired (its copies left the catalogue).
CREATE TABLE entities (
    entity_id    VARCHAR PRIMARY KEY,
    kind         VARCHAR NOT NULL,            -- dataset | model
    status       VARCHAR NOT NULL,
    merged_into  VARCHAR,
    primary_key  VARCHAR,                     -- "source:source_id" of the primary copy
    name         VARCHAR NOT NULL,
    facts        JSON NOT NULL,               -- what scoring, export and `show` read
    facts_hash   VARCHAR NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL         -- last change of facts, members or status
);

-- The entity each record currently belongs to, and how it got there.
CREATE TABLE entity_members (
    source       VARCHAR NOT NULL,
    source_id    VARCHAR NOT NULL,
    entity_id    VARCHAR NOT NULL,
    role         VARCHAR NOT NULL,            -- primary | copy
    method       VARCHAR NOT NULL,            -- primary | curator | identifier | reference | paper | similar
    evidence     VARCHAR NOT NULL,
    assigned_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, source_id)
);

-- Links between entities: a model uses a dataset, or one resource references another.
CREATE TABLE entity_links (
    entity_id    VARCHAR NOT NULL,
    target_id    VARCHAR NOT NULL,
    relation     VARCHAR NOT NULL,            -- uses_dataset | references
    evidence     VARCHAR NOT NULL,
    PRIMARY KEY (entity_id, target_id, relation)
);

-- Curator merges (must_link) and splits (cannot_link) between records, respected by every
-- later resolution. Append-only; `active` false once undone.
CREATE SEQUENCE resolution_constraint_ids;
CREATE TABLE resolution_constraints (
    constraint_id  BIGINT PRIMARY KEY DEFAULT nextval('resolution_constraint_ids'),
    kind           VARCHAR NOT NULL,          -- must_link | cannot_link
    a_key          VARCHAR NOT NULL,
    b_key          VARCHAR NOT NULL,
    keep_id        VARCHAR,                   -- for merges: the entity id that survives
    who            VARCHAR NOT NULL,
    reason         VARCHAR NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    active         BOOLEAN NOT NULL DEFAULT true
);

-- The last check of each primary URL. Dead links are reported, never deleted.
CREATE TABLE link_checks (
    url          VARCHAR PRIMARY KEY,
    status       INTEGER,
    final_url    VARCHAR,
    redirects    INTEGER NOT NULL,
    ok           BOOLEAN NOT NULL,
    error        VARCHAR,
    checked_at   TIMESTAMPTZ NOT NULL
);
