-- What a user or an API key may do: read < control < admin. Users and keys made before scopes existed
-- could do everything, so they keep that; a row added without saying gets the least.
ALTER TABLE users ADD COLUMN scope text NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('read', 'control', 'admin'));
ALTER TABLE users ALTER COLUMN scope SET DEFAULT 'read';
ALTER TABLE api_keys ADD COLUMN scope text NOT NULL DEFAULT 'admin'
    CHECK (scope IN ('read', 'control', 'admin'));
ALTER TABLE api_keys ALTER COLUMN scope SET DEFAULT 'read';
