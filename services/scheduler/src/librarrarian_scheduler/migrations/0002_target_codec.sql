-- The codec a job encodes to (the setting at the time the job was queued or retried).
ALTER TABLE jobs ADD COLUMN target_codec text NOT NULL DEFAULT 'hevc';
