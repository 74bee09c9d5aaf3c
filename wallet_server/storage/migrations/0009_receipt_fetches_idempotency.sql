-- wallet_server schema, version 9: the receipt fetches the wallet still owes residents, and the
-- answers to POSTs made with an Idempotency-Key.

-- One row per presentation whose access receipt the wallet asks the service for. It is written
-- before the wallet asks, so a failure or a restart between the service signing the receipt and
-- the wallet storing it leaves work to retry, not a lost receipt. state: pending (next attempt at
-- next_at), done (receipt_id stored), failed (given up: a violation was recorded).
CREATE TABLE receipt_fetches (
    presentation_id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    consent_id TEXT NOT NULL,
    service_did TEXT NOT NULL,
    receipt_uri TEXT NOT NULL,
    consent_record TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at BIGINT NOT NULL,
    last_error TEXT,
    receipt_id TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX receipt_fetches_due ON receipt_fetches (state, next_at);

-- The first answer to a POST carrying an Idempotency-Key, per caller (scope: the resident or
-- admin and the route) and key: a repeat with the same request gets it again; the answer is
-- sealed under the server's data key. state: running (the first request is still being answered)
-- or done. Rows are purged after expires_at.
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    idem_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    status INTEGER,
    answer BYTEA,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
