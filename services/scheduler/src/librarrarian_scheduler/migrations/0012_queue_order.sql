-- The queue's order (the relay releases waiting transcodes into the WORK stream in it): each job's expected
-- saving and library folder, decided when it is queued, and a user's move to the top (1) or bottom (-1).
ALTER TABLE jobs ADD COLUMN benefit double precision;
ALTER TABLE jobs ADD COLUMN library text;
ALTER TABLE jobs ADD COLUMN pinned smallint NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN pinned_at timestamptz;
CREATE INDEX outbox_unsent_by_subject ON outbox (subject) WHERE sent_at IS NULL;
