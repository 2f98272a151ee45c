-- Plex and Jellyfin settings, tokens included: in the scanner's schema, not in a NATS bucket that every
-- node (encoders on other machines too) can read.
CREATE TABLE sources (
    key        text PRIMARY KEY,
    value      bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
