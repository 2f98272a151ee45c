-- Where notifications go: Apprise URLs, which often hold a token or a password. Kept here, in the gateway's
-- own schema, not in the settings bucket that every node can read; never returned or exported.
CREATE TABLE notification_urls (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url      text NOT NULL UNIQUE,
    added_at timestamptz NOT NULL DEFAULT now()
);
