-- One row per finished transcode (done or skipped by the encoder).
CREATE TABLE transcodes (
    id              bigserial PRIMARY KEY,
    event_id        text NOT NULL UNIQUE,
    job_id          bigint NOT NULL,
    status          text NOT NULL CHECK (status IN ('done', 'skipped')),
    path            text NOT NULL,
    output_path     text,
    node            text NOT NULL,
    encoder         text,
    codec_before    text,
    codec_after     text,
    size_before     bigint,
    size_after      bigint,
    duration        double precision,
    elapsed_seconds double precision,
    reason          text,
    finished_at     timestamptz NOT NULL
);
CREATE INDEX transcodes_by_status ON transcodes (status, id DESC);
