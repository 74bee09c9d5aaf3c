-- The receipt outbox: access receipts waiting for and carrying their Merkle batch, the batches and
-- their anchoring state, and the consent records the receipts were checked against.
-- IF NOT EXISTS: a database whose tables an earlier release created without migrations takes this
-- version as it stands.
CREATE TABLE IF NOT EXISTS outbox_receipts (
    seq BIGSERIAL PRIMARY KEY,
    receipt_id TEXT NOT NULL UNIQUE,
    token TEXT NOT NULL,
    salt BYTEA NOT NULL,
    leaf BYTEA NOT NULL,
    service_did TEXT NOT NULL,
    pseudonym TEXT NOT NULL,
    consent_id TEXT NOT NULL,
    purpose TEXT NOT NULL,
    accessed_at BIGINT NOT NULL,
    stored_at BIGINT NOT NULL,
    batch_id BYTEA,
    leaf_index INTEGER
);
CREATE INDEX IF NOT EXISTS outbox_receipts_queued ON outbox_receipts (seq) WHERE batch_id IS NULL;
CREATE INDEX IF NOT EXISTS outbox_receipts_batch ON outbox_receipts (batch_id, leaf_index);
CREATE INDEX IF NOT EXISTS outbox_receipts_pseudonym ON outbox_receipts (pseudonym, accessed_at);
CREATE INDEX IF NOT EXISTS outbox_receipts_pseudonym_page ON outbox_receipts (pseudonym, accessed_at, receipt_id);
CREATE INDEX IF NOT EXISTS outbox_receipts_time ON outbox_receipts (accessed_at, receipt_id);
CREATE TABLE IF NOT EXISTS outbox_batches (
    batch_id BYTEA PRIMARY KEY,
    root BYTEA NOT NULL,
    size INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'final')),
    created_at BIGINT NOT NULL,
    tx_hash TEXT,
    block_number BIGINT,
    final_at BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS outbox_batches_open ON outbox_batches (created_at) WHERE state <> 'final';
CREATE TABLE IF NOT EXISTS outbox_consents (
    record_id TEXT PRIMARY KEY,
    pseudonym TEXT NOT NULL,
    service_did TEXT NOT NULL,
    body TEXT NOT NULL
);
