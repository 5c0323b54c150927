-- Relevance: cached embeddings, trained models and the latest classification of each record.

-- One vector per distinct text and embedding model: an unchanged record is never re-embedded.
CREATE TABLE embeddings (
    text_hash  VARCHAR NOT NULL,
    model_id   VARCHAR NOT NULL,
    vector     FLOAT[] NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (text_hash, model_id)
);

-- Every trained relevance model; exactly one is active (the best so far).
CREATE TABLE relevance_models (
    version     INTEGER PRIMARY KEY,
    created_at  TIMESTAMPTZ NOT NULL,
    embedder    VARCHAR NOT NULL,
    path        VARCHAR NOT NULL,          -- the pickled classifier under $SONOHARVEST_HOME/models
    examples    INTEGER NOT NULL,
    metrics     JSON NOT NULL,             -- cross-validated precision, recall, F1, WSS@95
    thresholds  JSON NOT NULL,             -- band cut-offs chosen on cross-validated scores
    active      BOOLEAN NOT NULL,
    note        VARCHAR
);

-- The classification of each record's current content by one model version.
CREATE TABLE classifications (
    source         VARCHAR NOT NULL,
    source_id      VARCHAR NOT NULL,
    content_hash   VARCHAR NOT NULL,
    model_version  INTEGER NOT NULL,
    relevance      DOUBLE NOT NULL,
    relevant       BOOLEAN NOT NULL,
    band           VARCHAR NOT NULL CHECK (band IN ('likely', 'review', 'unlikely')),
    review_sample  BOOLEAN NOT NULL,       -- an "unlikely" record drawn for review anyway
    kind           VARCHAR NOT NULL CHECK (kind IN ('dataset', 'model', 'other')),
    anatomy        VARCHAR[] NOT NULL,
    tasks          VARCHAR[] NOT NULL,
    evidence       JSON NOT NULL,
    classified_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, source_id)
);
