-- wallet_server schema, version 10: the city's OpenID Provider. An OpenID Connect client is a
-- registered service with its OAuth settings (redirect URIs, how it authenticates, the registration
-- the provider attaches to its login requests): body is the JSON of vcsdk.sso.SsoClient.
CREATE TABLE sso_clients (
    id TEXT PRIMARY KEY,
    registration_id TEXT NOT NULL REFERENCES service_registrations (id),
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sso_clients_registration ON sso_clients (registration_id);
