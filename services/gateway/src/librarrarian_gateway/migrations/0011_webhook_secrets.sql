-- The secret in a webhook's URL (Plex cannot send a header), per source. Only its hash is kept: the URL is
-- shown once, when it is made, and a new one replaces it.
CREATE TABLE webhook_secrets (
    source      text PRIMARY KEY,
    secret_hash text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
