-- wallet_server schema, version 8: which service each credential copy was shown to.
--
-- A copy of a batch (OpenID4VCI batch issuance: own device key, salts, signature, status index) is
-- shown to one service only; with the resident's copy_policy one_time (the default) it is shown
-- once. service is the resident's pseudonym for the service (HMAC of the resident's secret and the
-- service DID), not the DID.
CREATE TABLE credential_uses (
    credential_id TEXT PRIMARY KEY REFERENCES credentials (id) ON DELETE CASCADE,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    service TEXT NOT NULL,
    used_at BIGINT NOT NULL
);
CREATE INDEX credential_uses_resident ON credential_uses (resident_id, service);
