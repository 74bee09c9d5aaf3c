-- wallet_server schema, version 1. Portable between SQLite and PostgreSQL: times are integer
-- Unix seconds, identifiers are text, binary columns are BYTEA (SQLite stores them as blobs).

CREATE TABLE residents (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    wrap_key_id TEXT NOT NULL,
    wrapped_key BYTEA NOT NULL
);
CREATE INDEX residents_created ON residents (created_at, id);

CREATE TABLE enrolment_codes (
    code_hash TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    used_at BIGINT
);
CREATE INDEX enrolment_codes_resident ON enrolment_codes (resident_id);

CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    jkt TEXT NOT NULL UNIQUE,
    public_jwk TEXT NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX devices_resident ON devices (resident_id, created_at, id);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    format TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    ciphertext BYTEA NOT NULL
);
CREATE INDEX credentials_resident ON credentials (resident_id, created_at, id);

CREATE TABLE challenges (
    nonce_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX challenges_expiry ON challenges (expires_at);

CREATE TABLE seen_jtis (
    jti_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX seen_jtis_expiry ON seen_jtis (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    device_id TEXT NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_device ON refresh_tokens (device_id);
