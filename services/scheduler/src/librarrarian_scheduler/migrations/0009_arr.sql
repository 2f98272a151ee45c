-- Jobs the Arr apps ask for: renames (``new_path``: the name the app gives the file) and quality mismatches,
-- naming the app and its own ids for the file's series, movie or artist (``arr_item``) and the file
-- (``arr_file``). A path may have one waiting job of each kind: a transcode held while the quality mismatch
-- of the same file waits for review.
ALTER TABLE jobs ADD COLUMN app text;
ALTER TABLE jobs ADD COLUMN new_path text;
ALTER TABLE jobs ADD COLUMN arr_item bigint;
ALTER TABLE jobs ADD COLUMN arr_file bigint;
DROP INDEX jobs_one_active_per_path;
CREATE UNIQUE INDEX jobs_one_active_per_path ON jobs (kind, path)
    WHERE status IN ('awaiting_approval', 'pending', 'running');
CREATE INDEX jobs_waiting_by_path ON jobs (path) WHERE status IN ('awaiting_approval', 'pending');

-- Files whose transcode waits: their Arr app is about to replace them (below their quality cutoff). A
-- transcode for such a path is recorded awaiting approval, with the reason.
CREATE TABLE holds (
    path    text PRIMARY KEY,
    app     text NOT NULL,
    reason  text NOT NULL,
    held_at timestamptz NOT NULL DEFAULT now()
);
