CREATE TABLE jobs (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL DEFAULT 'transcode',
    path            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('pending', 'running', 'done', 'failed', 'skipped')),
    reason          text,
    error_log       text,
    attempts        integer NOT NULL DEFAULT 0,
    hw_class        text,
    node            text,
    source_size     bigint,
    source_mtime_ns bigint,
    source_inode    bigint,
    codec_before    text,
    probe           jsonb,
    output_path     text,
    size_after      bigint,
    commit_attempt  integer,
    commit_delivery integer,
    commit_node     text,
    committed_at    timestamptz,
    queued_at       timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- A path has at most one job in flight.
CREATE UNIQUE INDEX jobs_one_active_per_path ON jobs (path) WHERE status IN ('pending', 'running');
CREATE INDEX jobs_by_status ON jobs (status, id DESC);
CREATE INDEX jobs_by_path ON jobs (path, id DESC);
CREATE INDEX jobs_by_output ON jobs (output_path) WHERE status = 'done';

CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    job_id      bigint REFERENCES jobs (id) ON DELETE CASCADE,
    subject     text NOT NULL,
    msg_id      text NOT NULL UNIQUE,
    payload     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    stream_seq  bigint,
    not_before  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_unsent ON outbox (not_before, id) WHERE sent_at IS NULL;
CREATE INDEX outbox_by_stream_seq ON outbox (stream_seq);

-- Event ids already handled: every consumer tolerates redelivery.
CREATE TABLE inbox (
    event_id    text PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now()
);
