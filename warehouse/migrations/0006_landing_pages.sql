-- Landing pages: what the web page at an entity's primary URL states (JSON-LD, signposting,
-- citation meta, licence links, DOIs), fetched politely and cached; one row per URL.
CREATE TABLE landing_pages (
    url            VARCHAR PRIMARY KEY,
    final_url      VARCHAR,                 -- after redirects
    status         INTEGER,                 -- last HTTP status (304: unchanged since cached)
    ok             BOOLEAN NOT NULL,        -- extracted holds what the page states
    robots         VARCHAR NOT NULL,        -- allowed | disallowed | unreachable | not checked
    error          VARCHAR,                 -- why nothing was read, in one line
    etag           VARCHAR,                 -- validators for the next conditional request
    last_modified  VARCHAR,
    extracted      JSON,                    -- landing_extract.extract output, kept on a 304
    fetched_at     TIMESTAMPTZ NOT NULL
);
