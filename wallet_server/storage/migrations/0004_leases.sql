-- wallet_server schema, version 4: leases. One holder at a time for a named background job that
-- every instance runs (the receipt anchorer): the holder renews before expires_at; once it stops
-- renewing (it died, or lost the database), another instance takes the lease over.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
