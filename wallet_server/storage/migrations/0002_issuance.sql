-- wallet_server schema, version 2: the city's back office. OpenID4VCI protocol state, the
-- residents' offer inbox, status lists and issued-credential metadata (no credential contents).

-- Short-lived OpenID4VCI state (offers, pre-authorized codes, access tokens, nonces). Keys are
-- stored as SHA-256 digests and values sealed with the server data key; rows expire.
CREATE TABLE protocol_state (
    namespace TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    wrap_key_id TEXT NOT NULL,
    sealed BYTEA NOT NULL,
    counter BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, key_hash)
);
CREATE INDEX protocol_state_expiry ON protocol_state (expires_at);

-- Credential offers waiting in a resident's inbox. state: pending, redeemed, declined, expired.
CREATE TABLE offers (
    id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    configuration_id TEXT NOT NULL,
    offer_uri TEXT NOT NULL,
    offer_json TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX offers_resident ON offers (resident_id, created_at, id);

-- The city's status lists: StatusListIssuer state (to_json), the last published token and the
-- last digest anchored on chain.
CREATE TABLE status_lists (
    id BIGINT PRIMARY KEY,
    uri TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    size BIGINT NOT NULL,
    allocated BIGINT NOT NULL,
    version BIGINT NOT NULL,
    token TEXT,
    published_at BIGINT,
    published_version BIGINT,
    anchored_digest TEXT,
    anchored_version BIGINT,
    created_at BIGINT NOT NULL
);

-- Metadata of every credential the city issued (never its claims). state: valid, suspended, revoked.
CREATE TABLE issued_credentials (
    id TEXT PRIMARY KEY,
    offer_id TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    configuration_id TEXT NOT NULL,
    vct TEXT NOT NULL,
    status_list_id BIGINT NOT NULL REFERENCES status_lists (id),
    status_index BIGINT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (status_list_id, status_index)
);
CREATE INDEX issued_credentials_issued ON issued_credentials (issued_at, id);
CREATE INDEX issued_credentials_resident ON issued_credentials (resident_id, issued_at, id);
CREATE INDEX issued_credentials_offer ON issued_credentials (offer_id);
