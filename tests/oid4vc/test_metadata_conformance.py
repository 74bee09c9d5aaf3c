"""The issuer's two metadata documents, fetched over HTTP on 127.0.0.1 from their well-known
locations, checked field by field against the parameter lists of the specifications:

* Credential Issuer Metadata: OpenID4VCI 1.0 §12.2.4 (and Appendix A.3 for ``dc+sd-jwt``);
* Authorization Server Metadata: RFC 8414 §2, with the parameters OpenID4VCI §12.3, RFC 9126 §5,
  RFC 9449 §5.1, RFC 9207 §3, RFC 9396 §10 and OAuth attestation-based client authentication add.

Every REQUIRED parameter is present with the right type, every parameter served is one the
specifications define (a misspelt name would be silently ignored by a wallet), and the
conditional requirements hold (an ``authorization_endpoint`` when the authorization code grant is
offered, ``proof_types_supported`` when binding methods are, ``vct`` for ``dc+sd-jwt``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from tests._net import free_port
from vcsdk.oid4vc import (
    CredentialConfiguration,
    CredentialIssuer,
    InMemoryStateStore,
    WalletAttestationTrust,
    issuer_routes,
)

from ._pki import make_hierarchy
from .conftest import NOW, VCT

REQUIRED, OPTIONAL = "REQUIRED", "OPTIONAL"
STR, URL, BOOL, INT, LIST, OBJ = "string", "https-or-loopback URL", "boolean", "integer", "array", "object"

#: OpenID4VCI 1.0 §12.2.4: Credential Issuer Metadata parameters.
ISSUER_FIELDS: dict[str, tuple[str, str]] = {
    "credential_issuer": (REQUIRED, URL),
    "authorization_servers": (OPTIONAL, LIST),
    "credential_endpoint": (REQUIRED, URL),
    "nonce_endpoint": (OPTIONAL, URL),
    "deferred_credential_endpoint": (OPTIONAL, URL),
    "notification_endpoint": (OPTIONAL, URL),
    "credential_request_encryption": (OPTIONAL, OBJ),
    "credential_response_encryption": (OPTIONAL, OBJ),
    "batch_credential_issuance": (OPTIONAL, OBJ),
    "display": (OPTIONAL, LIST),
    "credential_configurations_supported": (REQUIRED, OBJ),
}

#: OpenID4VCI 1.0 §12.2.4: the parameters of one entry of credential_configurations_supported,
#: with Appendix A.3.2 (``vct`` for ``dc+sd-jwt``).
CONFIGURATION_FIELDS: dict[str, tuple[str, str]] = {
    "format": (REQUIRED, STR),
    "scope": (OPTIONAL, STR),
    "credential_signing_alg_values_supported": (OPTIONAL, LIST),
    "cryptographic_binding_methods_supported": (OPTIONAL, LIST),
    "proof_types_supported": (OPTIONAL, OBJ),
    "credential_metadata": (OPTIONAL, OBJ),
    "vct": (REQUIRED, STR),
}

#: RFC 8414 §2 Authorization Server Metadata, plus the parameters later registered in the
#: OAuth Authorization Server Metadata registry that this server may serve.
AS_FIELDS: dict[str, tuple[str, str]] = {
    # RFC 8414 §2
    "issuer": (REQUIRED, URL),
    "authorization_endpoint": (REQUIRED, URL),  # REQUIRED unless no grant uses it; ours does
    "token_endpoint": (REQUIRED, URL),  # REQUIRED unless only the implicit grant is supported
    "jwks_uri": (OPTIONAL, URL),
    "registration_endpoint": (OPTIONAL, URL),
    "scopes_supported": (OPTIONAL, LIST),  # RECOMMENDED
    "response_types_supported": (REQUIRED, LIST),
    "response_modes_supported": (OPTIONAL, LIST),
    "grant_types_supported": (OPTIONAL, LIST),
    "token_endpoint_auth_methods_supported": (OPTIONAL, LIST),
    "token_endpoint_auth_signing_alg_values_supported": (OPTIONAL, LIST),
    "service_documentation": (OPTIONAL, URL),
    "ui_locales_supported": (OPTIONAL, LIST),
    "op_policy_uri": (OPTIONAL, URL),
    "op_tos_uri": (OPTIONAL, URL),
    "revocation_endpoint": (OPTIONAL, URL),
    "introspection_endpoint": (OPTIONAL, URL),
    "code_challenge_methods_supported": (OPTIONAL, LIST),
    # RFC 9126 §5
    "pushed_authorization_request_endpoint": (OPTIONAL, URL),
    "require_pushed_authorization_requests": (OPTIONAL, BOOL),
    # RFC 9449 §5.1
    "dpop_signing_alg_values_supported": (OPTIONAL, LIST),
    # RFC 9207 §3
    "authorization_response_iss_parameter_supported": (OPTIONAL, BOOL),
    # RFC 9396 §10
    "authorization_details_types_supported": (OPTIONAL, LIST),
    # OpenID4VCI 1.0 §12.3
    "pre-authorized_grant_anonymous_access_supported": (OPTIONAL, BOOL),
    # OAuth 2.0 Attestation-Based Client Authentication §10
    "client_attestation_signing_alg_values_supported": (OPTIONAL, LIST),
    "client_attestation_pop_signing_alg_values_supported": (OPTIONAL, LIST),
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind == URL:
        if not isinstance(value, str):
            return False
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname == "127.0.0.1"
        return (parts.scheme == "https" or loopback) and bool(parts.hostname) and not parts.fragment
    return isinstance(
        value, {STR: str, BOOL: bool, INT: int, LIST: list, OBJ: dict}[kind]
    ) and (kind != LIST or bool(value))  # RFC 8414 §2: arrays are JSON arrays; an empty one says nothing


def check_fields(document: dict[str, Any], fields: dict[str, tuple[str, str]], what: str) -> list[str]:
    """Every way ``document`` departs from the parameter list ``fields`` (empty when it conforms)."""
    problems = [f"{what}: unknown parameter {name!r}" for name in document if name not in fields]
    for name, (level, kind) in fields.items():
        if name not in document:
            if level == REQUIRED:
                problems.append(f"{what}: REQUIRED parameter {name!r} is missing")
        elif not _type_ok(document[name], kind):
            problems.append(f"{what}: {name!r} is not a non-empty {kind}: {document[name]!r}")
    return problems


def check_issuer_metadata(meta: dict[str, Any], *, served_at: str) -> list[str]:
    problems = check_fields(meta, ISSUER_FIELDS, "credential issuer")
    # §12.2.2: the well-known URI inserts /.well-known/openid-credential-issuer before the path.
    issuer = urlsplit(str(meta.get("credential_issuer")))
    if served_at != f"{issuer.scheme}://{issuer.netloc}/.well-known/openid-credential-issuer{issuer.path}":
        problems.append("credential_issuer does not match the URL the metadata was fetched from")
    batch = meta.get("batch_credential_issuance")
    if batch is not None and (set(batch) != {"batch_size"} or not isinstance(batch["batch_size"], int)
                              or batch["batch_size"] < 2):
        problems.append("batch_credential_issuance needs batch_size, an integer of 2 or more")
    for index, entry in enumerate(meta.get("display") or []):
        if not isinstance(entry, dict) or not set(entry) <= {"name", "locale", "logo"}:
            problems.append(f"display[{index}] has parameters outside name, locale, logo")
    for config_id, config in (meta.get("credential_configurations_supported") or {}).items():
        what = f"credential configuration {config_id!r}"
        problems += check_fields(config, CONFIGURATION_FIELDS, what)
        if config.get("format") != "dc+sd-jwt":
            problems.append(f"{what}: format is not dc+sd-jwt")
        if "cryptographic_binding_methods_supported" in config and "proof_types_supported" not in config:
            problems.append(f"{what}: proof_types_supported is REQUIRED with cryptographic_binding_methods_supported")
        for proof_type, proof in (config.get("proof_types_supported") or {}).items():
            algs = proof.get("proof_signing_alg_values_supported") if isinstance(proof, dict) else None
            if not isinstance(algs, list) or not algs:
                problems.append(f"{what}: proof type {proof_type!r} lacks proof_signing_alg_values_supported")
            elif not set(proof) <= {"proof_signing_alg_values_supported", "key_attestations_required"}:
                problems.append(f"{what}: proof type {proof_type!r} has unknown parameters")
        for claim in (config.get("credential_metadata") or {}).get("claims", []):
            if not isinstance(claim.get("path"), list) or not claim["path"]:
                problems.append(f"{what}: a claims description without its REQUIRED path")
    return problems


def check_as_metadata(meta: dict[str, Any], *, served_at: str) -> list[str]:
    problems = check_fields(meta, AS_FIELDS, "authorization server")
    # RFC 8414 §3: the path component of the issuer follows the well-known segment; §3.3: issuer
    # identical to the one the metadata was looked up for.
    issuer = urlsplit(str(meta.get("issuer")))
    if served_at != f"{issuer.scheme}://{issuer.netloc}/.well-known/oauth-authorization-server{issuer.path}":
        problems.append("issuer does not match the URL the metadata was fetched from")
    if issuer.query or issuer.fragment:
        problems.append("issuer has a query or fragment (RFC 8414 §2)")
    # RFC 8414 §2: response_types_supported lists the values of response_type at the authorization
    # endpoint; the authorization code grant uses "code".
    grants = meta.get("grant_types_supported", ["authorization_code", "implicit"])  # §2: the default
    if "authorization_code" in grants and "code" not in meta.get("response_types_supported", []):
        problems.append("the authorization code grant needs response type 'code'")
    if "response_modes_supported" in meta and not set(meta["response_modes_supported"]) <= {
        "query", "fragment", "form_post", "query.jwt", "fragment.jwt", "form_post.jwt", "jwt"
    }:
        problems.append("response_modes_supported names an unregistered response mode")
    return problems


#: HAIP 1.0 §4 on top of the base metadata: PAR required, PKCE S256 only, DPoP with ES256, the
#: authorization code grant, iss in the authorization response.
def check_haip_as_metadata(meta: dict[str, Any], *, attestation: bool) -> list[str]:
    problems = []
    par = meta.get("pushed_authorization_request_endpoint")
    if meta.get("require_pushed_authorization_requests") is not True or par is None:
        problems.append("HAIP: PAR required and its endpoint published")
    if meta.get("code_challenge_methods_supported") != ["S256"]:
        problems.append("HAIP: PKCE S256 only")
    if "ES256" not in meta.get("dpop_signing_alg_values_supported", []):
        problems.append("HAIP: DPoP with ES256")
    if attestation and meta.get("token_endpoint_auth_methods_supported") != ["attest_jwt_client_auth"]:
        problems.append("HAIP: wallet attestation as client authentication")
    return problems


def clock():
    return NOW


@pytest.fixture(params=["open", "wallet_attestation"])
async def served(request, aiohttp_server):
    port = free_port()
    trust = None
    if request.param == "wallet_attestation":
        trust = WalletAttestationTrust(trust_anchors=[make_hierarchy(now=NOW, name="provider").root])
    issuer = CredentialIssuer(
        credential_issuer=f"http://127.0.0.1:{port}/issuer",
        configurations=[
            CredentialConfiguration(id="ResidentIdentityCredential", vct=VCT, display_name="Resident",
                                    claims=(("given_name",), ("address", "locality"))),
            CredentialConfiguration(id="Plain", vct=VCT + "/plain"),
        ],
        issue=lambda claims, key: "unused",
        store=InMemoryStateStore(),
        display_name="City",
        require_dpop=True,
        wallet_attestation=trust,
    )
    app = web.Application()
    app.add_routes(issuer_routes(issuer, clock=clock))
    await aiohttp_server(app, host="127.0.0.1", port=port)
    return issuer, port, trust is not None


async def _get(url: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200 and resp.content_type == "application/json"
        body = await resp.json()
        assert isinstance(body, dict)
        return body


async def test_served_metadata_conforms_to_the_parameter_lists(served):
    _, port, attestation = served
    issuer_url = f"http://127.0.0.1:{port}/.well-known/openid-credential-issuer/issuer"
    as_url = f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server/issuer"
    meta, as_meta = await _get(issuer_url), await _get(as_url)
    assert check_issuer_metadata(meta, served_at=issuer_url) == []
    assert check_as_metadata(as_meta, served_at=as_url) == []
    assert check_haip_as_metadata(as_meta, attestation=attestation) == []
    # Every REQUIRED parameter is served (the lists above are what the test holds the server to).
    for fields, doc in ((ISSUER_FIELDS, meta), (AS_FIELDS, as_meta)):
        assert {n for n, (level, _) in fields.items() if level == REQUIRED} <= set(doc)
    assert as_meta["response_types_supported"] == ["code"]
    # The authorization servers default to the Credential Issuer itself (§12.2.4): it is one.
    assert "authorization_servers" not in meta and as_meta["issuer"] == meta["credential_issuer"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda m: m.pop("response_types_supported"), "REQUIRED parameter 'response_types_supported' is missing"),
        (lambda m: m.pop("token_endpoint"), "REQUIRED parameter 'token_endpoint' is missing"),
        (lambda m: m.update(response_types_supported=["token"]), "needs response type 'code'"),
        (lambda m: m.update(issuer="http://127.0.0.1:1/other"), "issuer does not match"),
        (lambda m: m.update(dpop_signing_algs=["ES256"]), "unknown parameter 'dpop_signing_algs'"),
        (lambda m: m.update(scopes_supported=[]), "'scopes_supported' is not a non-empty array"),
    ],
    ids=["no-response-types", "no-token-endpoint", "no-code", "other-issuer", "misspelt", "empty-array"],
)
async def test_the_as_checker_catches_each_defect(served, mutate, expected):
    issuer, port, _ = served
    as_url = f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server/issuer"
    meta = issuer.authorization_server_metadata()
    mutate(meta)
    assert any(expected in p for p in check_as_metadata(meta, served_at=as_url))


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda m: m.pop("credential_endpoint"), "REQUIRED parameter 'credential_endpoint' is missing"),
        (lambda m: m.pop("credential_configurations_supported"), "'credential_configurations_supported' is missing"),
        (lambda m: next(iter(m["credential_configurations_supported"].values())).pop("vct"), "'vct' is missing"),
        (lambda m: next(iter(m["credential_configurations_supported"].values())).pop("proof_types_supported"),
         "proof_types_supported is REQUIRED"),
        (lambda m: m.update(batch_credential_issuance={"batch_size": 1}), "batch_size, an integer of 2"),
        (lambda m: m.update(credential_endpoint="ftp://127.0.0.1/credential"), "'credential_endpoint' is not"),
    ],
    ids=["no-credential-endpoint", "no-configurations", "no-vct", "no-proof-types", "batch-of-one", "bad-url"],
)
async def test_the_issuer_checker_catches_each_defect(served, mutate, expected):
    issuer, port, _ = served
    url = f"http://127.0.0.1:{port}/.well-known/openid-credential-issuer/issuer"
    meta = issuer.metadata()
    mutate(meta)
    assert any(expected in p for p in check_issuer_metadata(meta, served_at=url))
