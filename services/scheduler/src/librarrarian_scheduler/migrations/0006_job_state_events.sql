-- Every change of a job's record is published (queue.job_state_changed) through the outbox. ``version``
-- grows with each change and names the event (<job>:v<version>), so subscribers keep the newest;
-- ``retry_at`` is when a retried attempt may start. An event's outbox row belongs to no job: it must
-- outlive the job it reports removed.
ALTER TABLE jobs ADD COLUMN version bigint NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN retry_at timestamptz;
-- Sent event rows are pruned after a while; work rows stay with their job (reconcile and removal use them).
CREATE INDEX outbox_sent_events ON outbox (sent_at) WHERE job_id IS NULL AND sent_at IS NOT NULL;
