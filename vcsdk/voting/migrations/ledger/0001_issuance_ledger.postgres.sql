-- The city's issuance ledger for elections: one eligibility credential and one ballot token per
-- resident per election, durable across restarts. No timestamps, no blinded message, no signature.
--
-- voting_credentials: which resident holds which eligibility credential (a digest of its
--   issuer-signed part, so a presented credential leads back to its resident) and its status index.
CREATE TABLE voting_credentials (
    election_id TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    credential_digest BYTEA NOT NULL,
    status_index BIGINT,
    PRIMARY KEY (election_id, resident_id)
);
CREATE UNIQUE INDEX voting_credentials_digest ON voting_credentials (election_id, credential_digest);
-- voting_tokens: the resident got this election's blind signature (scope: the district of a
--   per-district key, '' for one key per election). blinded_digest is SHA-256 of the blinded message,
--   kept only so a retry of the same request gets the same answer; it is independent of the token.
CREATE TABLE voting_tokens (
    election_id TEXT NOT NULL,
    resident_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    blinded_digest BYTEA NOT NULL,
    PRIMARY KEY (election_id, resident_id)
);
