-- Sessions end after a while without use (SESSION_IDLE_MINUTES), not only at their expiry.
ALTER TABLE sessions ADD COLUMN last_seen timestamptz NOT NULL DEFAULT now();
CREATE INDEX sessions_by_user ON sessions (user_name);

-- The password last applied from LOCAL_PASSWORD (a scrypt hash): a changed environment password replaces
-- the user's, and a password changed since by hand is not undone by an unchanged environment.
ALTER TABLE users ADD COLUMN env_password_hash text;

-- Every key ever revoked, by hash: API_KEY in the environment cannot bring one back.
CREATE TABLE revoked_keys (
    key_hash   text PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
