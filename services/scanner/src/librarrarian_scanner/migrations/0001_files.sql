-- The catalogue: what each file was when it was last probed.
CREATE TABLE files (
    path      text PRIMARY KEY,
    library   text NOT NULL,
    size      bigint NOT NULL,
    mtime_ns  bigint NOT NULL,
    inode     bigint NOT NULL,
    status    text NOT NULL CHECK (status IN ('ok', 'error')),
    probe     jsonb,
    error     text,
    probed_at timestamptz NOT NULL DEFAULT now(),
    seen_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_by_library ON files (library);
