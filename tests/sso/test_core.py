"""vcsdk.sso's pure parts: what a login asks for (registration ∩ scopes), pairwise subjects, clients
and the login registration the provider attaches to its OpenID4VP requests."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration, issue_registration, verify_registration
from vcsdk.sso import (
    LOGIN_CLAIM,
    SsoClient,
    allowed_scopes,
    claim_paths,
    login_registration,
    pairwise_subject,
    project_claims,
    secret_hash,
)

VCT = "https://credentials.kaga.example/ResidentIdentityCredential"
CITY = "did:ethr:0x1:0x0000000000000000000000000000000000000001"
SHOP = "did:ethr:0x1:0x0000000000000000000000000000000000000002"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def registration(*paths: tuple[str, ...], vct: str = VCT) -> RelyingPartyRegistration:
    return RelyingPartyRegistration(
        issuer=CITY, service_did=SHOP, registration_id="reg-shop", name="Kaga Onsen Shop",
        purposes=(Purpose("account", "Your account"),),
        claim_sets=tuple(ClaimSet(f"c{i}", vct, (p,)) for i, p in enumerate(paths)),
        retention_days=30, receipt_endpoint="https://shop.example/w", privacy_policy="https://shop.example/p",
        jurisdiction="JP-17", issued_at=NOW, expires_at=NOW + timedelta(days=365),
    )


SHOP_REG = registration(("given_name",), ("address", "locality"), ("age_equal_or_over", "20"))


@pytest.mark.parametrize(
    ("scopes", "expected"),
    [
        (["openid"], ()),
        (["openid", "profile"], (("given_name",),)),  # profile ∩ registration: the given name only
        (["openid", "address"], (("address", "locality"),)),  # narrowed to the registered member
        (["openid", "age"], (("age_equal_or_over", "20"),)),
        (["openid", "resident"], ()),  # registered for nothing of it
        (["openid", "age", "profile", "age"], (("age_equal_or_over", "20"), ("given_name",))),
    ],
)
def test_a_login_asks_for_the_registration_intersected_with_the_scopes(scopes: list[str], expected: tuple) -> None:
    assert claim_paths(SHOP_REG, VCT, scopes) == expected


def test_a_wider_registration_gives_the_whole_scope_claim() -> None:
    assert claim_paths(registration(("address",)), VCT, ["address"]) == (("address",),)
    # claims of another credential type are never asked for
    assert claim_paths(registration(("given_name",), vct="https://other.example/T"), VCT, ["profile"]) == ()


def test_allowed_scopes_are_those_the_registration_gives_something_for() -> None:
    assert allowed_scopes(SHOP_REG, VCT) == {"openid", "profile", "address", "age"}
    assert allowed_scopes(registration(("resident_since",)), VCT) == {"openid", "resident"}


def test_project_claims_keeps_only_the_paths() -> None:
    disclosed = {"given_name": "Taro", "address": {"locality": "Kaga", "region": "Ishikawa"},
                 "verification": {"level": "high"}}
    assert project_claims(disclosed, [("address", "locality"), ("given_name",)]) == {
        "address": {"locality": "Kaga"}, "given_name": "Taro"}
    assert project_claims(disclosed, [("birthdate",)]) == {}  # not disclosed: absent, never null


def test_pairwise_subjects_differ_per_sector_and_secret_and_stay_stable() -> None:
    secret = b"s" * 32
    shop = pairwise_subject(secret, sector=SHOP, local_id="res_1")
    assert shop == pairwise_subject(secret, sector=SHOP, local_id="res_1")
    assert shop != pairwise_subject(secret, sector=CITY, local_id="res_1")
    assert shop != pairwise_subject(secret, sector=SHOP, local_id="res_2")
    assert shop != pairwise_subject(b"t" * 32, sector=SHOP, local_id="res_1")
    assert "res_1" not in shop and len(shop) == 43
    with pytest.raises(ValueError):
        pairwise_subject(b"short", sector=SHOP, local_id="res_1")


def _client(**changes: object) -> SsoClient:
    base = SsoClient(
        client_id="rp-shop-0001", registration="r", login_registration="l",
        redirect_uris=("https://shop.example/cb",), token_endpoint_auth_method="client_secret_basic",
        client_secret_hash=secret_hash("s3cret-s3cret-s3cret-s3cret-s3cret"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_client_round_trips_and_checks_its_secret() -> None:
    client = _client(post_logout_redirect_uris=("https://shop.example/bye",))
    assert SsoClient.from_json(client.to_json()) == client
    assert client.check_secret("s3cret-s3cret-s3cret-s3cret-s3cret") and not client.check_secret("guess")
    assert "s3cret" not in repr(client) and client.client_secret_hash not in repr(client)


@pytest.mark.parametrize(
    "changes",
    [
        {"redirect_uris": ()},
        {"redirect_uris": ("http://shop.example/cb",)},  # plain http off the loopback interface
        {"redirect_uris": ("https://shop.example/cb#frag",)},
        {"token_endpoint_auth_method": "client_secret_post"},
        {"token_endpoint_auth_method": "private_key_jwt", "jwks": None},
        {"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [Key.generate("P-256").private_jwk()]}},
        {"client_secret_hash": None},
        {"client_id": "short"},
        {"backchannel_logout_uri": "ftp://shop.example/bc"},
    ],
)
def test_a_malformed_client_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidInputError):
        _client(**changes)


def test_id_tokens_are_es256_unless_the_client_asks_for_rs256() -> None:
    client = _client()
    assert client.id_token_signed_response_alg == "ES256"
    stored = client.to_json()
    del stored["id_token_signed_response_alg"]  # a client registered before the setting existed
    assert SsoClient.from_json(stored).id_token_signed_response_alg == "ES256"
    rs256 = _client(id_token_signed_response_alg="RS256")
    assert SsoClient.from_json(rs256.to_json()) == rs256 and rs256.to_json()["id_token_signed_response_alg"] == "RS256"


@pytest.mark.parametrize("alg", ["HS256", "none", "PS256", "RS384", "ES384", "EdDSA", "rs256", "", None, 256])
def test_an_unsupported_id_token_alg_is_refused(alg: object) -> None:
    with pytest.raises(InvalidInputError) as refused:
        _client(id_token_signed_response_alg=alg)
    assert refused.value.code == "unsupported_id_token_alg" and refused.value.http_status == 400
    assert "ES256, RS256" in refused.value.message


def test_the_login_registration_names_the_service_as_recipient_and_is_signed_by_the_city() -> None:
    city_key = Key.generate("P-256").with_kid(CITY + "#key-1")
    token = login_registration(city_key, SHOP_REG, provider_did=CITY, vct=VCT,
                               receipt_endpoint="https://city.example/sso/withdrawals", now=NOW)
    login = verify_registration(token, city_did=CITY, city_key=city_key.public_key(), now=NOW + timedelta(days=1))
    assert login.service_did == CITY and login.recipients == (SHOP,) and login.name == "Kaga Onsen Shop"
    assert [p.id for p in login.purposes] == ["login"]
    assert {tuple(p) for c in login.claim_sets for p in c.paths} == {
        ("given_name",), ("address", "locality"), ("age_equal_or_over", "20"), LOGIN_CLAIM}
    assert login.expires_at == SHOP_REG.expires_at and login.retention_days == SHOP_REG.retention_days
    # the service's own token is not a login registration: its DID is the service's
    assert verify_registration(issue_registration(city_key, SHOP_REG), city_did=CITY,
                               city_key=city_key.public_key(), now=NOW).service_did == SHOP
