-- Jobs that wait for a user's approval before they are queued (cleanup of stale files; later renames and
-- quality mismatches). Such a job counts as in flight for its path: a second scan does not add it twice.
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('awaiting_approval', 'pending', 'running', 'done', 'failed', 'skipped'));
DROP INDEX jobs_one_active_per_path;
CREATE UNIQUE INDEX jobs_one_active_per_path ON jobs (path)
    WHERE status IN ('awaiting_approval', 'pending', 'running');
-- Releasing every waiting job of a kind.
CREATE INDEX jobs_awaiting_by_kind ON jobs (kind, id) WHERE status = 'awaiting_approval';
