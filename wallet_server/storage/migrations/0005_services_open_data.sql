-- wallet_server schema, version 5: the services the city registered (the signed registration and
-- what the console lists) and the open-data releases, which are also the privacy budget ledger.

-- Relying-party registrations the city signed (vcsdk.registration); the token is public.
CREATE TABLE service_registrations (
    id TEXT PRIMARY KEY,
    service_did TEXT NOT NULL,
    name TEXT NOT NULL,
    token TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX service_registrations_did ON service_registrations (service_did, created_at);

-- Every open-data release, in order within its month: (period, seq) is unique, so two exports
-- that race for the same month cannot both spend what is left of its budget.
CREATE TABLE open_data_releases (
    id TEXT PRIMARY KEY,
    period TEXT NOT NULL,
    seq BIGINT NOT NULL,
    epsilon TEXT NOT NULL,
    k_threshold BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (period, seq)
);
