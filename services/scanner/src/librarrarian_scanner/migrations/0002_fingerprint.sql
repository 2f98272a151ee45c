-- Content identity (size plus hashes of sampled blocks), for files probed since; NULL for older rows.
ALTER TABLE files ADD COLUMN fingerprint text;
