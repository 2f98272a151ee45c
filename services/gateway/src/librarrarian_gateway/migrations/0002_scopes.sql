-- What a user or an API key may do: read < control < admin. Users and keys made before scopes existed
-- could do everything, so they keep that; new ones say what they get.
ALTER TABLE users ADD COLUMN scope text NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('read', 'control', 'admin'));
ALTER TABLE users ALTER COLUMN scope DROP DEFAULT;
ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('read', 'control', 'admin'));
ALTER TABLE api_keys ALTER COLUMN scope DROP DEFAULT;
