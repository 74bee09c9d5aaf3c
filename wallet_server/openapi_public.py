"""The public protocol endpoints in the OpenAPI document.

These routes follow their own specifications (OpenID4VCI 1.0 and RFC 8414 metadata, the IETF Token
Status List, W3C DID Resolution in the Universal Resolver's shape), with their own media types and
error bodies, so they are described here rather than generated from the route table. The paths
are what matters: whichever module mounts the handlers, ``tests/wallet_server/test_openapi.py``
checks that every route the server answers is in the document.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PUBLIC_PATHS", "PUBLIC_SCHEMAS"]

_NO_STORE = {"Cache-Control": {"schema": {"type": "string"}, "required": True, "description": "`no-store`"}}
_JSON = "application/json"
_PROBLEM = "application/problem+json"
_DID_RESOLUTION = 'application/ld+json;profile="https://w3id.org/did-resolution"'


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, media: str = _JSON) -> dict[str, Any]:
    return {media: {"schema": _ref(name)}}


def _oauth_error(description: str) -> dict[str, Any]:
    return {"description": description, "headers": _NO_STORE, "content": _json("OAuthError")}


def _op(operation_id: str, summary: str, tag: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, "tags": [tag], "responses": responses, **extra}


_TOO_MANY = {"description": "Too Many Requests", "content": _json("Problem", _PROBLEM)}

PUBLIC_SCHEMAS: dict[str, Any] = {
    "OAuthError": {
        "type": "object",
        "description": "RFC 6749 §5.2 / OpenID4VCI §6.3, §8.3.1 error body.",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "examples": ["invalid_grant", "invalid_proof", "invalid_nonce"]},
            "error_description": {"type": "string"},
        },
    },
    "CredentialIssuerMetadata": {
        "type": "object",
        "description": "OpenID4VCI 1.0 §12.2.4 Credential Issuer Metadata.",
        "required": ["credential_issuer", "credential_endpoint", "credential_configurations_supported"],
        "properties": {
            "credential_issuer": {"type": "string", "format": "uri"},
            "credential_endpoint": {"type": "string", "format": "uri"},
            "nonce_endpoint": {"type": "string", "format": "uri"},
            "notification_endpoint": {"type": "string", "format": "uri"},
            "credential_configurations_supported": {"type": "object", "additionalProperties": {"type": "object"}},
            "batch_credential_issuance": {"type": "object", "properties": {"batch_size": {"type": "integer"}}},
            "display": {"type": "array", "items": {"type": "object"}},
        },
    },
    "AuthorizationServerMetadata": {
        "type": "object",
        "description": "RFC 8414 metadata for the Pre-Authorized Code grant (OpenID4VCI §12.3).",
        "required": ["issuer", "token_endpoint"],
        "properties": {
            "issuer": {"type": "string", "format": "uri"},
            "token_endpoint": {"type": "string", "format": "uri"},
            "grant_types_supported": {"type": "array", "items": {"type": "string"}},
            "pre-authorized_grant_anonymous_access_supported": {"type": "boolean"},
            "token_endpoint_auth_methods_supported": {"type": "array", "items": {"type": "string"}},
        },
    },
    "CredentialOfferObject": {
        "type": "object",
        "description": "OpenID4VCI §4.1.1 Credential Offer (fetched by reference from `credential_offer_uri`).",
        "required": ["credential_issuer", "credential_configuration_ids", "grants"],
        "properties": {
            "credential_issuer": {"type": "string", "format": "uri"},
            "credential_configuration_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "grants": {"type": "object"},
        },
    },
    "IssuerTokenRequest": {
        "type": "object",
        "description": "OpenID4VCI §6.1 Token Request with the Pre-Authorized Code grant.",
        "required": ["grant_type", "pre-authorized_code"],
        "properties": {
            "grant_type": {"type": "string", "const": "urn:ietf:params:oauth:grant-type:pre-authorized_code"},
            "pre-authorized_code": {"type": "string", "maxLength": 512},
            "tx_code": {"type": "string", "maxLength": 64, "description": "The PIN the resident received by letter."},
        },
    },
    "IssuerParRequest": {
        "type": "object",
        "description": "RFC 9126 Pushed Authorization Request for the authorization code flow (PKCE S256 only).",
        "required": ["response_type", "client_id", "redirect_uri", "code_challenge", "code_challenge_method"],
        "properties": {
            "response_type": {"type": "string", "const": "code"},
            "client_id": {"type": "string", "maxLength": 256},
            "redirect_uri": {"type": "string", "maxLength": 512},
            "code_challenge": {"type": "string", "minLength": 43, "maxLength": 128},
            "code_challenge_method": {"type": "string", "const": "S256"},
            "authorization_details": {
                "type": "string", "maxLength": 2048, "description": "RFC 9396 JSON array, form-encoded",
            },
            "scope": {"type": "string", "maxLength": 256},
            "state": {"type": "string", "maxLength": 256},
            "issuer_state": {"type": "string", "maxLength": 256},
        },
    },
    "IssuerTokenResponse": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string"},
            "expires_in": {"type": "integer"},
        },
    },
    "NonceResponse": {
        "type": "object",
        "required": ["c_nonce"],
        "properties": {"c_nonce": {"type": "string"}},
    },
    "IssuerCredentialRequest": {
        "type": "object",
        "description": "OpenID4VCI §8.2: `credential_configuration_id` and key proofs "
        "(`proofs.jwt`: one `openid4vci-proof+jwt` per key; several keys issue batch copies).",
        "properties": {
            "credential_configuration_id": {"type": "string"},
            "proofs": {"type": "object", "properties": {"jwt": {"type": "array", "items": {"type": "string"}}}},
        },
    },
    "IssuerCredentialResponse": {
        "type": "object",
        "required": ["credentials"],
        "properties": {
            "credentials": {
                "type": "array",
                "items": {
                    "type": "object", "required": ["credential"], "properties": {"credential": {"type": "string"}},
                },
            },
            "notification_id": {"type": "string"},
        },
    },
    "NotificationRequest": {
        "type": "object",
        "description": "OpenID4VCI §11.1.",
        "required": ["notification_id", "event"],
        "properties": {
            "notification_id": {"type": "string"},
            "event": {"type": "string", "enum": ["credential_accepted", "credential_failure", "credential_deleted"]},
            "event_description": {"type": "string"},
        },
    },
    "DidResolutionResult": {
        "type": "object",
        "description": "W3C DID Resolution result, as the Universal Resolver answers.",
        "required": ["didResolutionMetadata", "didDocument", "didDocumentMetadata"],
        "properties": {
            "didResolutionMetadata": {"type": "object"},
            "didDocument": {"type": ["object", "null"]},
            "didDocumentMetadata": {"type": "object"},
        },
    },
    "DidDocument": {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "string"}, "verificationMethod": {"type": "array", "items": {"type": "object"}}},
    },
    "DidProblem": {
        "type": "object",
        "description": "An RFC 9457 problem that also carries the DID Resolution members "
        "(`didResolutionMetadata.error`: `invalidDid`, `methodNotSupported`, `notFound`).",
        "required": ["type", "status", "code", "didResolutionMetadata"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "request_id": {"type": "string"},
            "didResolutionMetadata": {"type": "object", "properties": {"error": {"type": "string"}}},
            "didDocument": {"type": "null"},
            "didDocumentMetadata": {"type": "object"},
        },
    },
}

_ISSUER = "OpenID4VCI issuer"
_BEARER: list[dict[str, list[str]]] = [{"issuerAccessToken": []}]

PUBLIC_PATHS: dict[str, dict[str, Any]] = {
    "/.well-known/openid-credential-issuer/issuer": {
        "get": _op(
            "issuer_metadata", "Credential Issuer Metadata (OpenID4VCI §12.2)", _ISSUER,
            {"200": {"description": "OK", "content": _json("CredentialIssuerMetadata")}, "429": _TOO_MANY},
        )
    },
    "/.well-known/oauth-authorization-server/issuer": {
        "get": _op(
            "authorization_server_metadata", "OAuth Authorization Server Metadata (RFC 8414)", _ISSUER,
            {"200": {"description": "OK", "content": _json("AuthorizationServerMetadata")}, "429": _TOO_MANY},
        )
    },
    "/issuer/credential-offer/{offer_id}": {
        "get": _op(
            "credential_offer", "A Credential Offer by reference (the `credential_offer_uri` of an offer link)",
            _ISSUER,
            {
                "200": {"description": "OK", "headers": _NO_STORE, "content": _json("CredentialOfferObject")},
                "400": _oauth_error("unknown or expired offer (`invalid_request`)"),
                "429": _TOO_MANY,
            },
            parameters=[
                {"name": "offer_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
            ],
        )
    },
    "/issuer/par": {
        "post": _op(
            "issuer_par", "Pushed Authorization Request (RFC 9126): PKCE S256, `authorization_details` or `scope`",
            _ISSUER,
            {
                "201": {"description": "Created: `request_uri` and `expires_in`", "headers": _NO_STORE,
                        "content": {"application/json": {"schema": {
                            "type": "object", "required": ["request_uri", "expires_in"],
                            "properties": {"request_uri": {"type": "string"}, "expires_in": {"type": "integer"}},
                        }}}},
                "400": _oauth_error("`invalid_request`, `invalid_client`, `unauthorized_client`, "
                                    "`invalid_authorization_details`, `use_dpop_nonce`"),
                "401": _oauth_error("`invalid_client`: the wallet attestation is missing or invalid"),
                "413": {"description": "Payload Too Large", "content": _json("Problem", _PROBLEM)},
                "429": _TOO_MANY,
            },
            requestBody={
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": _ref("IssuerParRequest")}},
            },
        )
    },
    "/issuer/authorize": {
        "get": _op(
            "issuer_authorize", "Authorization endpoint for a pushed request (`client_id` and `request_uri`)",
            _ISSUER,
            {
                "302": {"description": "Found: on to the resident's authentication, or back to the wallet's "
                                       "`redirect_uri` with `code` or `error`"},
                "400": _oauth_error("`invalid_request`: unknown, used or expired `request_uri`"),
                "429": _TOO_MANY,
            },
            parameters=[
                {"name": "client_id", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "request_uri", "in": "query", "required": True, "schema": {"type": "string"}},
            ],
        )
    },
    "/issuer/token": {
        "post": _op(
            "issuer_token", "Token endpoint: redeem a pre-authorized code with its Transaction Code", _ISSUER,
            {
                "200": {"description": "OK", "headers": _NO_STORE, "content": _json("IssuerTokenResponse")},
                "400": _oauth_error("`invalid_request`, `invalid_grant` (wrong PIN, used or expired code), "
                                    "`unsupported_grant_type`"),
                "413": {"description": "Payload Too Large", "content": _json("Problem", _PROBLEM)},
                "429": _TOO_MANY,
            },
            requestBody={
                "required": True,
                "content": {"application/x-www-form-urlencoded": {"schema": _ref("IssuerTokenRequest")}},
            },
        )
    },
    "/issuer/nonce": {
        "post": _op(
            "issuer_nonce", "Nonce endpoint: a fresh `c_nonce` for key proofs (OpenID4VCI §7)", _ISSUER,
            {"200": {"description": "OK", "headers": _NO_STORE, "content": _json("NonceResponse")}, "429": _TOO_MANY},
        )
    },
    "/issuer/credential": {
        "post": _op(
            "issuer_credential", "Credential endpoint: the SD-JWT VC bound to each proven key", _ISSUER,
            {
                "200": {"description": "OK", "headers": _NO_STORE, "content": _json("IssuerCredentialResponse")},
                "400": _oauth_error("`invalid_credential_request`, `invalid_proof`, `invalid_nonce`, "
                                    "`unknown_credential_configuration`"),
                "401": _oauth_error("`invalid_token`: the access token is missing, expired or used"),
                "413": {"description": "Payload Too Large", "content": _json("Problem", _PROBLEM)},
                "429": _TOO_MANY,
                "503": {
                    "description": "The chain or the database is unavailable", "content": _json("Problem", _PROBLEM),
                },
            },
            security=_BEARER,
            requestBody={"required": True, "content": _json("IssuerCredentialRequest")},
        )
    },
    "/issuer/deferred_credential": {
        "post": _op(
            "issuer_deferred_credential", "Deferred Credential endpoint: the credential for a `transaction_id`",
            _ISSUER,
            {
                "200": {"description": "OK", "headers": _NO_STORE, "content": _json("IssuerCredentialResponse")},
                "202": {"description": "Accepted: not ready yet, ask again after `interval` seconds",
                        "headers": _NO_STORE, "content": {"application/json": {"schema": {"type": "object"}}}},
                "400": _oauth_error("`invalid_transaction_id`, `invalid_credential_request`"),
                "401": _oauth_error("`invalid_token`: the access token is missing, expired or used"),
                "413": {"description": "Payload Too Large", "content": _json("Problem", _PROBLEM)},
                "429": _TOO_MANY,
            },
            security=_BEARER,
            requestBody={"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["transaction_id"],
                "properties": {"transaction_id": {"type": "string"}},
            }}}},
        )
    },
    "/issuer/notification": {
        "post": _op(
            "issuer_notification", "Notification endpoint: the wallet reports what became of a credential", _ISSUER,
            {
                "204": {"description": "No Content"},
                "400": _oauth_error("`invalid_notification_id`, `invalid_notification_request`"),
                "401": _oauth_error("`invalid_token`"),
                "413": {"description": "Payload Too Large", "content": _json("Problem", _PROBLEM)},
                "429": _TOO_MANY,
            },
            security=_BEARER,
            requestBody={"required": True, "content": _json("NotificationRequest")},
        )
    },
    "/status/{list_id}": {
        "get": _op(
            "status_list", "A Token Status List (IETF draft-ietf-oauth-status-list), signed by the city",
            "status lists",
            {
                "200": {
                    "description": "OK",
                    "headers": {
                        "ETag": {"schema": {"type": "string"}, "required": True},
                        "Cache-Control": {
                            "schema": {"type": "string"}, "required": True, "description": "`public, max-age=<ttl>`",
                        },
                    },
                    "content": {"application/statuslist+jwt": {"schema": {"type": "string"}}},
                },
                "304": {"description": "Not Modified (the If-None-Match ETag still matches)"},
                "404": {"description": "Not Found", "content": _json("Problem", _PROBLEM)},
                "429": _TOO_MANY,
            },
            parameters=[
                {"name": "list_id", "in": "path", "required": True,
                 "schema": {"type": "string", "pattern": "^[1-9][0-9]{0,8}$"}},
                {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
            ],
        )
    },
    "/1.0/identifiers/{did}": {
        "get": _op(
            "resolve_did", "Resolve a DID (did:ethr on the city's chain, did:key, did:jwk)", "DID resolution",
            {
                "200": {
                    "description": "OK (`Accept: application/did+ld+json` answers the document alone)",
                    "content": {
                        _DID_RESOLUTION: {"schema": _ref("DidResolutionResult")},
                        "application/did+ld+json": {"schema": _ref("DidDocument")},
                    },
                },
                "400": {"description": "`invalidDid`, `methodNotSupported`", "content": _json("DidProblem", _PROBLEM)},
                "404": {"description": "`notFound`", "content": _json("DidProblem", _PROBLEM)},
                "410": {
                    "description": "Deactivated: the resolution result with `deactivated: true`",
                    "content": {_DID_RESOLUTION: {"schema": _ref("DidResolutionResult")}},
                },
                "429": _TOO_MANY,
                "503": {"description": "The chain is unavailable", "content": _json("Problem", _PROBLEM)},
            },
            parameters=[
                {"name": "did", "in": "path", "required": True,
                 "schema": {"type": "string", "minLength": 1, "maxLength": 2048}},
            ],
        )
    },
}


# -- elections: the public election, the ballot-token issuer and the eligibility issuer ------------

_VOTING = "voting"
_ELECTION_ID = {"name": "election_id", "in": "path", "required": True,
                "schema": {"type": "string", "maxLength": 128}}
_VOTING_ERROR = {"description": "`{error, error_description}`", "content": _json("OAuthError")}

PUBLIC_SCHEMAS["BallotTokenRequest"] = {
    "type": "object",
    "description": "The device's eligibility presentation (key-bound to the nonce and this issuer) and its "
                   "RFC 9474 blinded message.",
    "required": ["presentation", "nonce", "blinded_msg"],
    "properties": {
        "presentation": {"type": "string", "maxLength": 65536},
        "nonce": {"type": "string"},
        "blinded_msg": {"type": "string", "description": "base64url"},
    },
}

PUBLIC_PATHS.update({
    "/voting/{election_id}": {
        "get": _op(
            "public_election", "An election: its state, token keys, anchor contract, voting service and tally",
            _VOTING, {"200": {"description": "OK", "content": _json("Election")}, "404": _VOTING_ERROR},
            parameters=[_ELECTION_ID],
        )
    },
    "/voting/{election_id}/ballot-tokens/keys": {
        "get": _op(
            "ballot_token_keys", "The election's token keys (check each against its commitment on chain)", _VOTING,
            {"200": {"description": "OK: `{election_id, variant, keys}`",
                     "content": {"application/json": {"schema": {"type": "object"}}}},
             "404": _VOTING_ERROR},
            parameters=[_ELECTION_ID],
        )
    },
    "/voting/{election_id}/ballot-tokens/nonce": {
        "post": _op(
            "ballot_token_nonce", "A single-use nonce for the eligibility presentation of one token request",
            _VOTING,
            {"201": {"description": "Created: `{nonce, expires_at}`", "headers": _NO_STORE,
                     "content": {"application/json": {"schema": {"type": "object"}}}},
             "404": _VOTING_ERROR, "409": _VOTING_ERROR},
            parameters=[_ELECTION_ID],
        )
    },
    "/voting/{election_id}/ballot-tokens/sign": {
        "post": _op(
            "ballot_token_sign", "Blind-sign one ballot token for an eligible resident (once per election)",
            _VOTING,
            {"200": {"description": "OK: `{blind_sig}` (base64url)", "headers": _NO_STORE,
                     "content": {"application/json": {"schema": {"type": "object"}}}},
             "400": _VOTING_ERROR, "403": _VOTING_ERROR, "404": _VOTING_ERROR, "409": _VOTING_ERROR,
             "413": {"description": "Payload Too Large", "content": _json("Problem", _PROBLEM)}},
            parameters=[_ELECTION_ID],
            requestBody={"required": True, "content": _json("BallotTokenRequest")},
        )
    },
})


def _eligibility_issuer(path: str, ops: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The city's OpenID4VCI issuer, as each open election's eligibility issuer mounts it."""
    voting = path.replace("/issuer", "/voting/{election_id}/issuer", 1)
    copied: dict[str, Any] = {}
    for method, op in ops.items():
        parameters = [_ELECTION_ID, *op.get("parameters", [])]
        responses = {**op["responses"], "404": {"description": "no such election", **_VOTING_ERROR},
                     "409": {"description": "the election is not open (`election_state`)", **_VOTING_ERROR}}
        copied[method] = {**op, "operationId": f"eligibility_{op['operationId']}", "tags": [_VOTING],
                          "summary": f"Eligibility credential: {op['summary']}", "parameters": parameters,
                          "responses": responses}
    return voting, copied


_ISSUER_PATHS = [(p, o) for p, o in PUBLIC_PATHS.items() if p.startswith(("/issuer/", "/.well-known/"))]
PUBLIC_PATHS.update(dict(_eligibility_issuer(p, o) for p, o in _ISSUER_PATHS))
_SSO = "single sign-on (OpenID Provider)"
_TEXT = {"type": "string", "maxLength": 8192}


def _form(required: list[str], *names: str) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": {n: _TEXT for n in (*required, *names)}}
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


_AUTHORIZE_FORM = _form(["response_type", "client_id", "redirect_uri", "scope"], "state", "nonce", "code_challenge",
                        "code_challenge_method", "prompt")
_LOGOUT_FORM = _form(["id_token_hint"], "client_id", "post_logout_redirect_uri", "state")
_ID = {"type": "string", "minLength": 1, "maxLength": 64}
_SSO_JSON = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}


def _sso_authorize(method: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"requestBody": _AUTHORIZE_FORM} if method == "post" else {"parameters": [
        {"name": n, "in": "query", "required": n in ("client_id", "redirect_uri", "response_type", "scope"),
         "schema": _TEXT}
        for n in ("response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
                  "code_challenge_method", "prompt")
    ]}
    return _op(
        f"sso_authorize_{method}", "OpenID Connect authentication request (code flow, PKCE S256 required)", _SSO,
        {
            "303": {"description": "See Other: the login page (sets the login's browser cookie)"},
            "302": {"description": "Found: back to the registered `redirect_uri` with `error` and `state`"},
            "400": _oauth_error("`invalid_client` (unknown client), `invalid_request` (unregistered redirect_uri)"),
            "429": _TOO_MANY,
        },
        **extra,
    )


def _sso_userinfo(method: str) -> dict[str, Any]:
    return _op(
        f"sso_userinfo_{method}", "UserInfo (OIDC Core §5.3): `sub` and the claims of the login", _SSO,
        {"200": _SSO_JSON, "401": _oauth_error("`invalid_token`"), "429": _TOO_MANY},
    )


def _sso_logout(method: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"requestBody": _LOGOUT_FORM} if method == "post" else {"parameters": [
        {"name": n, "in": "query", "required": n == "id_token_hint", "schema": _TEXT}
        for n in ("id_token_hint", "client_id", "post_logout_redirect_uri", "state")
    ]}
    return _op(
        f"sso_logout_{method}", "RP-initiated logout (the login's refresh tokens stop working)", _SSO,
        {
            "200": {"description": "Logged out (no redirect asked)", "content": {"text/html": {}}},
            "302": {"description": "Found: to the registered `post_logout_redirect_uri`"},
            "400": _oauth_error("`invalid_request`"),
            "429": _TOO_MANY,
        },
        **extra,
    )


def _sso_request_object(method: str) -> dict[str, Any]:
    extra: dict[str, Any] = {"requestBody": _form([], "wallet_metadata", "wallet_nonce")} if method == "post" else {}
    return _op(
        f"sso_request_object_{method}", "The provider's OpenID4VP Request Object (signed by the city)", _SSO,
        {
            "200": {"description": "OK",
                    "content": {"application/oauth-authz-req+jwt": {"schema": {"type": "string"}}}},
            "400": _oauth_error("`invalid_request`: unknown or expired request"),
            "429": _TOO_MANY,
        },
        parameters=[{"name": "request_id", "in": "path", "required": True, "schema": _ID}],
        **extra,
    )


_LOGIN_ID = [{"name": "login_id", "in": "path", "required": True, "schema": _ID}]

PUBLIC_PATHS.update({
    "/sso/.well-known/openid-configuration": {"get": _op(
        "sso_configuration", "OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3)", _SSO,
        {"200": _SSO_JSON, "429": _TOO_MANY},
    )},
    "/sso/jwks": {"get": _op(
        "sso_jwks", "The provider's public keys (the city's P-256 key by its DID URL, its RSA key by thumbprint)",
        _SSO,
        {"200": _SSO_JSON, "429": _TOO_MANY},
    )},
    "/sso/authorize": {"get": _sso_authorize("get"), "post": _sso_authorize("post")},
    "/sso/login/{login_id}": {"get": _op(
        "sso_login_page", "The login page: QR code and same-device link until the wallet answers, then the "
        "redirect to the relying party (JSON state with `Accept: application/json`)", _SSO,
        {
            "200": {"description": "The page (or its state)", "content": {"text/html": {}, "application/json": {}}},
            "302": {"description": "Found: to the relying party with `code` or `error`"},
            "400": _oauth_error("`invalid_request`: unknown login or another browser's; `authorization_pending`"),
            "429": _TOO_MANY,
        },
        parameters=_LOGIN_ID,
    )},
    "/sso/token": {"post": _op(
        "sso_token", "Token endpoint: authorization code with PKCE, or refresh token; client_secret_basic or "
        "private_key_jwt", _SSO,
        {
            "200": {"description": "OK: `access_token`, `id_token`, `refresh_token`", "headers": _NO_STORE,
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": _oauth_error("`invalid_grant` (used or unknown code, PKCE verifier, revoked credential), "
                                "`invalid_request`, `unsupported_grant_type`"),
            "401": _oauth_error("`invalid_client`"),
            "429": _TOO_MANY,
        },
        requestBody=_form(["grant_type"], "code", "redirect_uri", "code_verifier", "refresh_token", "client_id",
                          "client_assertion_type", "client_assertion", "scope"),
    )},
    "/sso/userinfo": {"get": _sso_userinfo("get"), "post": _sso_userinfo("post")},
    "/sso/logout": {"get": _sso_logout("get"), "post": _sso_logout("post")},
    "/sso/oid4vp/request/{request_id}": {"get": _sso_request_object("get"), "post": _sso_request_object("post")},
    "/sso/oid4vp/response": {"post": _op(
        "sso_oid4vp_response", "The wallet's OpenID4VP response (direct_post) to the provider's login request", _SSO,
        {"200": _SSO_JSON, "400": _oauth_error("the spec's error codes"), "401": _oauth_error("a failed check"),
         "429": _TOO_MANY},
        requestBody=_form(["state"], "vp_token", "response", "error", "error_description"),
    )},
    "/sso/receipts/{login_id}": {"post": _op(
        "sso_access_receipt", "The wallet's signed consent record for a login; answers the provider's access receipt",
        _SSO,
        {"200": _SSO_JSON, "400": _oauth_error("`invalid_request`"), "429": _TOO_MANY},
        parameters=_LOGIN_ID,
        requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
    )},
    "/sso/withdrawals": {"post": _op(
        "sso_withdrawal", "A withdrawn login consent (the provider keeps no claims after a login)", _SSO,
        {"200": _SSO_JSON, "400": _oauth_error("`invalid_request`"), "429": _TOO_MANY},
        requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
    )},
})
