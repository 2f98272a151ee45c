-- The relay publishes every due row but transcodes at each pass, and transcodes only as far as each class's
-- window allows. While no node takes work, thousands of transcodes wait unsent: reading past them at every
-- pass (each new job wakes the relay) cost more than the job itself. This index holds only the others.
CREATE INDEX outbox_unsent_others ON outbox (not_before, id)
    WHERE sent_at IS NULL AND subject NOT LIKE 'work.transcode.%';
