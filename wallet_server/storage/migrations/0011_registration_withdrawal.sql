-- wallet_server schema, version 11: a registration the city can withdraw before it expires. Each new
-- registration carries an entry in one of the city's status lists (like a credential); withdrawing it
-- sets that entry, and wallets refuse the registration from then on. Registrations signed before this
-- version carry none (NULL) and can only expire.
ALTER TABLE service_registrations ADD COLUMN status_list_id BIGINT;
ALTER TABLE service_registrations ADD COLUMN status_index BIGINT;
ALTER TABLE service_registrations ADD COLUMN withdrawn_at BIGINT;
ALTER TABLE service_registrations ADD COLUMN withdrawn_by TEXT
