"""A verifier given the issuer's key directly also takes the issuer that key belongs to.

A key proves who signed, not the ``iss`` the signer wrote: a key the caller pinned for one issuer
(or a key shared by two DIDs) must not make a token naming another issuer verify as that issuer's.
Every key-taking verifier accepts ``expected_issuer`` and refuses another issuer with
``ClaimsError`` code ``issuer_mismatch``; without it the result reports the signer's word.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from vcsdk.credentials import (
    build_credential,
    issue_sd_jwt_vc,
    issue_vc_jwt,
    issue_vc_sd_jwt,
    present,
    verify_jwt_vc_json,
    verify_presentation_with_key,
    verify_sd_jwt,
    verify_vc_jwt,
    verify_vc_sd_jwt,
)
from vcsdk.credentials._status_list._bitstring import issue_status_list_credential
from vcsdk.credentials._status_list._token import issue_status_list_token
from vcsdk.credentials._w3c._jwt_vc_json import issue_jwt_vc_json
from vcsdk.credentials.status_list import (
    Bitstring,
    TokenStatusList,
    verify_status_list_credential,
    verify_status_list_token,
)
from vcsdk.errors import ClaimsError, InvalidInputError, VerificationError
from vcsdk.keys import Key

NOW = datetime(2026, 4, 1, 9, tzinfo=UTC)
PINNED = "did:example:kaga-city"
MALLORY = "did:example:mallory"
AUD, NONCE = "https://shop.example", "n-0S6_WzA2Mj"
KEY = Key.generate("P-256").with_kid(PINNED + "#key-1")
HOLDER = Key.generate("P-256")

Verify = Callable[[str, str | None], Any]


def _sd_jwt_vc(iss: str) -> str:
    return issue_sd_jwt_vc(
        {"given_name": "Hanako"}, issuer=iss, vct="https://credentials.example/Resident", signer=KEY,
        holder_key=HOLDER.public_key(), disclosable=[["given_name"]], now=NOW,
    )


def _sd_jwt_presentation(iss: str) -> str:
    return present(_sd_jwt_vc(iss), disclose=[["given_name"]], holder_signer=HOLDER, audience=AUD, nonce=NONCE,
                   now=NOW)


def _w3c(iss: str) -> dict[str, Any]:
    return build_credential(issuer=iss, types=["ResidentIdentityCredential"], valid_from=NOW - timedelta(days=1),
                            subject={"given_name": "Hanako"})


def _jwt_vc_json(iss: str) -> str:
    vc = {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiableCredential", "Resident"],
          "credentialSubject": {"given_name": "Hanako"}}
    return issue_jwt_vc_json(vc, KEY, issuer=iss, now=NOW - timedelta(minutes=5))


LIST_URL = "https://city.example/status/1"


def _status_list_token(iss: str) -> str:
    return issue_status_list_token(TokenStatusList(64, bits=1), KEY, uri=LIST_URL, now=NOW, iss=iss)


def _status_list_credential(iss: str) -> str:
    return issue_status_list_credential(Bitstring(131072), KEY, url=LIST_URL, issuer=iss, purpose="revocation",
                                        now=NOW - timedelta(minutes=5))


#: (make a token naming this issuer, verify it with KEY and this expected issuer, read the result's issuer)
CASES: dict[str, tuple[Callable[[str], str], Verify]] = {
    "verify_sd_jwt": (
        _sd_jwt_vc,
        lambda t, e: verify_sd_jwt(t, issuer_key=KEY.public_key(), expected_issuer=e, now=NOW).issuer,
    ),
    "verify_presentation_with_key": (
        _sd_jwt_presentation,
        lambda t, e: verify_presentation_with_key(
            t, issuer_key=KEY.public_key(), expected_issuer=e, audience=AUD, nonce=NONCE, now=NOW
        ).issuer,
    ),
    "verify_vc_sd_jwt": (
        lambda iss: issue_vc_sd_jwt(_w3c(iss), KEY, disclosable=["given_name"]),
        lambda t, e: verify_vc_sd_jwt(t, KEY.public_key(), expected_issuer=e, now=NOW).issuer,
    ),
    "verify_vc_jwt": (
        lambda iss: issue_vc_jwt(_w3c(iss), KEY),
        lambda t, e: verify_vc_jwt(t, KEY.public_key(), expected_issuer=e, now=NOW).issuer,
    ),
    "verify_status_list_token": (
        _status_list_token,
        lambda t, e: verify_status_list_token(t, KEY.public_key(), uri=LIST_URL, expected_issuer=e, now=NOW).issuer,
    ),
    "verify_status_list_credential": (
        _status_list_credential,
        lambda t, e: verify_status_list_credential(
            t, KEY.public_key(), url=LIST_URL, purpose="revocation", expected_issuer=e, now=NOW
        ).issuer,
    ),
    "verify_jwt_vc_json": (
        _jwt_vc_json,
        lambda t, e: verify_jwt_vc_json(t, KEY.public_key(), expected_issuer=e, now=NOW).issuer,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_token_naming_another_issuer_is_refused(name: str) -> None:
    make, verify = CASES[name]
    forged = make(MALLORY)  # signed with the pinned issuer's key, naming someone else
    with pytest.raises(ClaimsError) as info:
        verify(forged, PINNED)
    assert info.value.code == "issuer_mismatch"
    assert isinstance(info.value, VerificationError)


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_expected_issuer_verifies(name: str) -> None:
    make, verify = CASES[name]
    assert verify(make(PINNED), PINNED) == PINNED


@pytest.mark.parametrize("name", sorted(CASES))
def test_without_it_the_result_is_only_the_signers_word(name: str) -> None:
    # What the docstrings warn about: the signer chose this iss, nothing checked it.
    make, verify = CASES[name]
    assert verify(make(MALLORY), None) == MALLORY


@pytest.mark.parametrize("bad", ["", 42, b"did:example:kaga-city"])
def test_expected_issuer_must_be_a_non_empty_string(bad: Any) -> None:
    token = _sd_jwt_vc(PINNED)
    with pytest.raises(InvalidInputError):
        verify_sd_jwt(token, issuer_key=KEY.public_key(), expected_issuer=bad, now=NOW)
    with pytest.raises(InvalidInputError):
        verify_presentation_with_key(
            _sd_jwt_presentation(PINNED), issuer_key=KEY.public_key(), expected_issuer=bad, audience=AUD,
            nonce=NONCE, now=NOW,
        )
