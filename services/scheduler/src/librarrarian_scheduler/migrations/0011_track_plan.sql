-- A transcode's track plan, decided when the job is queued from its library folder's rules: the audio and
-- subtitle streams it keeps (NULL: every one) and a line per stream it drops, shown before the job runs.
ALTER TABLE jobs ADD COLUMN planned_streams integer[];
ALTER TABLE jobs ADD COLUMN track_plan text[] NOT NULL DEFAULT '{}';
