"""One ``VerificationPolicy`` for every ``verify_*``: a service builds its policy once and passes it
to each verifier of vcsdk, whatever the token (SD-JWT VC, W3C VC, status list, receipt,
registration, request object, a bare JWS)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import types
import typing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import vcsdk
from vcsdk.credentials import (
    DEFAULT_VERIFICATION_POLICY,
    VerificationPolicy,
    build_credential,
    issue_vc_jwt,
    verify_vc_jwt,
)
from vcsdk.errors import DisallowedAlgorithmError, InvalidInputError, TokenExpiredError
from vcsdk.keys import AlgorithmPolicy, Key, sign_jws, verify_jws

#: Public ``verify_*`` functions with no policy to choose, and why. Every other one takes ``policy``.
NO_POLICY = {
    "vcsdk.blindrsa.verify": "RFC 9474 blind RSA: the key and its parameters fix the algorithm",
    "vcsdk.receipts.verify_inclusion": "a Merkle inclusion proof: hashes, no signature, no clock",
    "vcsdk.voting.verify_ballot_token": "a blind-RSA token under the election's committed key",
    "vcsdk.voting.verify_ballot_receipt": "a Merkle proof against an anchored root",
    "vcsdk.voting.verify_published_election": "a tally checked against the chain",
    "vcsdk.oid4vc.verify_dpop_proof": "RFC 9449: the server's advertised DPoP algorithms and proof age",
    "vcsdk.oid4vc.verify_client_attestation": "the wallet-attestation trust it is given decides",
}


def _public_verifiers() -> dict[str, Callable[..., Any]]:
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.walk_packages(vcsdk.__path__, "vcsdk."):
        if any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        module = importlib.import_module(info.name)
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if name.startswith("verify") and inspect.isfunction(obj):
                # One entry per function, under the first public module that exports it.
                found.setdefault(f"{info.name}.{name}", obj)
    unique: dict[int, str] = {}
    for qualified, fn in sorted(found.items(), key=lambda kv: len(kv[0])):
        unique.setdefault(id(fn), qualified)
    return {qualified: found[qualified] for qualified in unique.values()}


def _accepts_verification_policy(hint: object) -> bool:
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    for member in members:
        if member is VerificationPolicy:
            return True
        if isinstance(member, type) and getattr(member, "_is_runtime_protocol", False):
            if isinstance(DEFAULT_VERIFICATION_POLICY, member):
                return True
    return False


def test_the_walk_finds_the_verifiers() -> None:
    # The test below can fail: it sees the credential, status, receipt and JOSE verifiers.
    names = set(_public_verifiers())
    assert {"vcsdk.credentials.verify_vc", "vcsdk.credentials.verify_presentation", "vcsdk.keys.verify_jws",
            "vcsdk.receipts.verify_access_receipt", "vcsdk.oid4vc.verify_request_object"} <= names
    assert not _accepts_verification_policy(AlgorithmPolicy)


def test_every_public_verifier_takes_a_verification_policy() -> None:
    wrong, unlisted = [], []
    verifiers = _public_verifiers()
    for qualified, fn in verifiers.items():
        if "policy" not in inspect.signature(fn).parameters:
            if qualified not in NO_POLICY:
                unlisted.append(qualified)
            continue
        hint = typing.get_type_hints(fn)["policy"]
        if not _accepts_verification_policy(hint):
            wrong.append(f"{qualified}: policy is {hint}")
        # A second knob beside the policy would be two answers to one question.
        doubled = {"leeway", "check_status", "key_binding_max_age", "sd_algorithms"} & set(
            inspect.signature(fn).parameters
        )
        if doubled:
            wrong.append(f"{qualified}: takes {sorted(doubled)} beside the policy")
    assert not wrong, wrong
    assert not unlisted, f"verify_* without a policy, not explained in NO_POLICY: {unlisted}"
    assert set(NO_POLICY) <= set(verifiers), f"stale NO_POLICY entries: {set(NO_POLICY) - set(verifiers)}"


NOW = datetime(2026, 4, 1, 9, tzinfo=UTC)
KEY = Key.generate("P-256").with_kid("did:example:city#k1")


def _vc_jwt() -> str:
    vc = build_credential(issuer="did:example:city", types=["ResidentIdentityCredential"],
                          valid_from=NOW - timedelta(days=1), valid_until=NOW, subject={"given_name": "Hanako"})
    return issue_vc_jwt(vc, KEY)


def test_the_policy_is_honoured_not_only_accepted() -> None:
    token = _vc_jwt()
    # leeway: 30 s after validUntil passes with the default 60 s, fails with none.
    verify_vc_jwt(token, KEY.public_key(), now=NOW + timedelta(seconds=30))
    with pytest.raises(TokenExpiredError):
        verify_vc_jwt(token, KEY.public_key(), now=NOW + timedelta(seconds=30),
                      policy=VerificationPolicy(leeway=timedelta(0)))
    # algorithms, through the bare JOSE function as well.
    only_eddsa = VerificationPolicy(algorithms=("EdDSA",))
    with pytest.raises(DisallowedAlgorithmError):
        verify_vc_jwt(token, KEY.public_key(), now=NOW, policy=only_eddsa)
    jws = sign_jws({"a": 1}, KEY, typ="JWT")
    assert verify_jws(jws, KEY.public_key(), policy=VerificationPolicy()).claims() == {"a": 1}
    with pytest.raises(DisallowedAlgorithmError):
        verify_jws(jws, KEY.public_key(), policy=only_eddsa)


def test_an_algorithm_policy_still_works_with_a_deprecation_warning() -> None:
    token = _vc_jwt()
    with pytest.warns(DeprecationWarning, match="VerificationPolicy"):
        verify_vc_jwt(token, KEY.public_key(), now=NOW, policy=AlgorithmPolicy(("ES256",)))  # type: ignore[arg-type]
    with pytest.warns(DeprecationWarning), pytest.raises(DisallowedAlgorithmError):
        verify_vc_jwt(token, KEY.public_key(), now=NOW, policy=AlgorithmPolicy(("EdDSA",)))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        verify_vc_jwt(token, KEY.public_key(), now=NOW, policy="ES256")  # type: ignore[arg-type]
