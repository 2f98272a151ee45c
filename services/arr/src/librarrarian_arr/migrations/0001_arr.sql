-- Each app's settings (ArrSettings, API key included) and the webhook key's hash: in the arr service's own
-- schema, not in a NATS bucket every node can read.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- What an app still has to hear after a transcode: a rescan of the file's series, movie or artist, then
-- (with auto-rename) a rename. Tried again, less and less often, while the app cannot be reached.
CREATE TABLE followups (
    id         bigserial PRIMARY KEY,
    job_id     bigint NOT NULL,
    app        text NOT NULL,
    path       text NOT NULL,
    attempts   integer NOT NULL DEFAULT 0,
    next_at    timestamptz NOT NULL DEFAULT now(),
    last_error text,
    done_at    timestamptz,
    outcome    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, app)
);
CREATE INDEX followups_due ON followups (next_at) WHERE done_at IS NULL;
