-- wallet_server schema, version 6: the resident's privacy choices and the broken promises the wallet
-- recorded (a service that returned no valid access receipt, or did not answer a withdrawal).

-- The resident's choices: refuse a service next time once it broke the receipt rule (1, the
-- default) or not (0); use a fresh credential copy for every presentation ('one_time', the default)
-- or one copy per service ('per_service').
CREATE TABLE resident_privacy (
    resident_id TEXT PRIMARY KEY REFERENCES residents (id) ON DELETE CASCADE,
    refuse_after_violation INTEGER NOT NULL,
    copy_policy TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- One row per broken promise. kind: receipt_missing, receipt_invalid, withdrawal_unanswered,
-- withdrawal_receipt_invalid; code: the error behind it; ref_id: the presentation or consent.
-- The city sees these only counted per service (no resident), through the back office.
CREATE TABLE violations (
    id TEXT PRIMARY KEY,
    resident_id TEXT NOT NULL REFERENCES residents (id) ON DELETE CASCADE,
    service_did TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    ref_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX violations_resident ON violations (resident_id, created_at, id);
CREATE INDEX violations_service ON violations (service_did, kind);
