-- wallet_server schema, version 7: the city's elections (the console's "Elections"). The token keys
-- are sealed with the server data key; who received a credential or a token is in the voting
-- issuance ledger (vcsdk.voting, its own tables), never here.
CREATE TABLE elections (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    keys_wrap_key_id TEXT NOT NULL,
    keys_sealed BYTEA NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
