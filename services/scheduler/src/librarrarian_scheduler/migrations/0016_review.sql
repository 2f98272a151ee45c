-- Review before replace. ``review``: the job's library folder is reviewed (decided when it is queued). A
-- job whose verified output waits beside its original is ``ready_to_replace``, holding no slot, with the
-- output as it was kept (``waiting``: name, identity, codec, VMAF) and a preview frame of each file. A user's
-- decision (``decision``: accept or reject) is carried by the job's next attempt; a refused one brings the
-- job back to ``ready_to_replace`` with the reason.
ALTER TABLE jobs ADD COLUMN review boolean NOT NULL DEFAULT false;
ALTER TABLE jobs ADD COLUMN waiting jsonb;
ALTER TABLE jobs ADD COLUMN decision text CHECK (decision IN ('accept', 'reject'));
ALTER TABLE jobs ADD COLUMN vmaf double precision;
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check CHECK (
    status IN ('awaiting_approval', 'pending', 'running', 'done', 'failed', 'skipped', 'ready_to_replace')
);
-- A file has one job at a time while its output waits too: a scan finding it again adds nothing.
DROP INDEX jobs_one_active_per_path;
CREATE UNIQUE INDEX jobs_one_active_per_path ON jobs (kind, path)
    WHERE status IN ('awaiting_approval', 'pending', 'running', 'ready_to_replace');
CREATE INDEX jobs_ready_by_id ON jobs (id) WHERE status = 'ready_to_replace';

-- Two small JPEGs per waiting output (bounded by the encoder; dropped with the job).
CREATE TABLE previews (
    job_id   bigint PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    original bytea NOT NULL,
    output   bytea NOT NULL,
    at       double precision
);
