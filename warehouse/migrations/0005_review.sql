-- Curator decisions as the warehouse sees them, copied from curation.sqlite by each run.

-- The current review state of each queue item (entity id, or "source:id" of a lone record).
CREATE TABLE review_states (
    item_id      VARCHAR PRIMARY KEY,
    state        VARCHAR NOT NULL,          -- accepted | rejected | postponed
    review_hash  VARCHAR,                   -- the content decided on
    synced_at    TIMESTAMPTZ NOT NULL
);

-- Records labelled by curator decisions: they join the relevance training set.
CREATE TABLE curator_labels (
    source       VARCHAR NOT NULL,
    source_id    VARCHAR NOT NULL,
    relevant     BOOLEAN NOT NULL,
    kind         VARCHAR NOT NULL,          -- dataset | model | other
    decided_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, source_id)
);
