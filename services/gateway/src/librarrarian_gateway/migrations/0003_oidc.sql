-- Users who sign in with an OpenID provider have no password here; the provider's issuer and subject name
-- them (the name they were given at their first sign-in is only what the dashboard shows).
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users
    ADD COLUMN oidc_issuer  text,
    ADD COLUMN oidc_subject text,
    ADD CONSTRAINT users_oidc_identity UNIQUE (oidc_issuer, oidc_subject),
    ADD CONSTRAINT users_oidc_both CHECK ((oidc_issuer IS NULL) = (oidc_subject IS NULL));

-- Sign-ins under way, each used once: the state names one (hashed: it travels in URLs), the browser that
-- started it holds the cookie whose hash is kept, and the nonce and PKCE verifier wait for the callback.
CREATE TABLE oidc_sign_ins (
    state_hash    text PRIMARY KEY,
    browser_hash  text NOT NULL,
    nonce         text NOT NULL,
    code_verifier text NOT NULL,
    redirect_uri  text NOT NULL,
    next_url      text NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX oidc_sign_ins_by_expiry ON oidc_sign_ins (expires_at);
