-- wallet_server schema, version 3: the resident's wallet side. The offer accept flow, presentations in
-- progress and their history, the resident's consents (an index into the receipt outbox's consent
-- records) and per-resident secrets. Every blob is AES-256-GCM under the resident's data key, with
-- associated data naming the table, the resident and the row.

-- The offers inbox (table from version 2, shared with the city side): the accept flow in progress
-- (sealed: the issuer's access token and endpoints, the proof's signing input, the device) and the
-- credential an accepted offer produced. Offer states used here: pending → accepting → redeemed;
-- declined; failed.
ALTER TABLE offers ADD COLUMN flow BYTEA;
ALTER TABLE offers ADD COLUMN credential_id TEXT;

-- OpenID4VP requests a resident is answering or has answered (the presentation history).
CREATE TABLE presentations (
    id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    body BYTEA NOT NULL
);
CREATE INDEX presentations_resident ON presentations (resident_id, created_at, id);

-- Which consent records (kept in the receipt outbox) belong to which resident.
CREATE TABLE resident_consents (
    consent_id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    service_did TEXT NOT NULL,
    presentation_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX resident_consents_resident ON resident_consents (resident_id, created_at, consent_id);

-- The secret per-service pseudonyms are derived from, and the custodial device key if the
-- resident uses the custodial option.
CREATE TABLE resident_secrets (
    resident_id TEXT PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    pseudonym_secret BYTEA NOT NULL,
    custodial_key BYTEA,
    created_at BIGINT NOT NULL
);
