-- Why a hardware encode gave way to the CPU (job.completed's fallback_reason), for the details view.
ALTER TABLE transcodes ADD COLUMN fallback_reason text;
-- The statistics page aggregates the files finished in a recent window.
CREATE INDEX transcodes_done_by_finished ON transcodes (finished_at) WHERE status = 'done';
