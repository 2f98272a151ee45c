-- Every commit ever granted: a completion counts only from a delivery that was granted the commit (a later
-- delivery may take the grant over from a holder presumed dead, whose replace may still have happened).
CREATE TABLE commits (
    job_id     bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt    integer NOT NULL,
    delivery   integer NOT NULL,
    node       text NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, attempt, delivery, node)
);
INSERT INTO commits (job_id, attempt, delivery, node, granted_at)
    SELECT id, commit_attempt, commit_delivery, commit_node, coalesce(committed_at, now()) FROM jobs
    WHERE commit_attempt IS NOT NULL AND commit_delivery IS NOT NULL AND commit_node IS NOT NULL;
-- The delivery that reported starting the current attempt (``node`` is its node): while it runs, only it
-- may report the attempt skipped or failed.
ALTER TABLE jobs ADD COLUMN run_delivery integer;
