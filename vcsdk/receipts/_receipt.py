"""Receipts: a service's signed statements about a resident's consent.

An *access receipt* (``typ`` ``access-receipt+jwt``) says the service accessed claims under a
consent; a *withdrawal receipt* (``typ`` ``withdrawal-receipt+jwt``) says the service received the
resident's withdrawal of a consent. Both are compact JWS signed with a key from the service's DID;
the wallet verifies each against the consent before accepting it (:func:`verify_access_receipt`,
:func:`verify_withdrawal_receipt`) and anchors both the same way.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypedDict

from vcsdk._b64 import b64url_encode
from vcsdk._time import aware, from_numeric_date, to_numeric_date
from vcsdk.credentials import IssuerKeyResolver
from vcsdk.credentials._policy import DEFAULT_VERIFICATION_POLICY, VerificationPolicy, verification_policy
from vcsdk.errors import (
    ClaimsError,
    ClaimsNotConsentedError,
    ConsentExpiredError,
    ConsentMismatchError,
    ConsentWithdrawnError,
    InvalidInputError,
    KeyNotFoundError,
    PurposeNotConsentedError,
    TokenNotYetValidError,
)
from vcsdk.keys import (
    Key,
    Signer,
    UnverifiedJws,
    check_jose_header,
    decode_jws,
    sign_jws,
    verify_jws,
    verify_signature,
)
from vcsdk.receipts._consent import ConsentRecord, Pseudonym

__all__ = [
    "ACCESS_RECEIPT_TYP",
    "WITHDRAWAL_RECEIPT_TYP",
    "AccessReceipt",
    "AccessReceiptClaims",
    "ReceiptKind",
    "ReceiptText",
    "WithdrawalReceiptClaims",
    "issue_access_receipt",
    "issue_withdrawal_receipt",
    "peek_access_receipt",
    "verify_access_receipt",
    "verify_access_receipt_resolved",
    "verify_withdrawal_receipt",
    "verify_withdrawal_receipt_resolved",
]

#: The JWS ``typ`` of an access receipt (RFC 8725 §3.11 explicit typing).
ACCESS_RECEIPT_TYP = "access-receipt+jwt"
#: The JWS ``typ`` of a withdrawal receipt.
WITHDRAWAL_RECEIPT_TYP = "withdrawal-receipt+jwt"
ReceiptKind = Literal["access", "withdrawal"]
MAX_RECEIPT_BYTES = 16_384
_ID = re.compile(r"[A-Za-z0-9._:~-]{1,128}")


class AccessReceiptClaims(TypedDict):
    """The JWS payload of an access receipt."""

    iss: str
    sub: str
    jti: str
    iat: int
    consent_id: str
    claims: list[str]
    purpose: str
    presentation_hash: str


class WithdrawalReceiptClaims(TypedDict):
    """The JWS payload of a withdrawal receipt."""

    iss: str
    sub: str
    jti: str
    iat: int
    consent_id: str
    presentation_hash: str
    withdrawn_at: int
    record_hash: str


@dataclass(frozen=True, slots=True)
class AccessReceipt:
    """A parsed receipt; ``token`` is the exact compact JWS the service signed.

    Values come from :func:`verify_access_receipt` / :func:`verify_withdrawal_receipt` (verified)
    or :func:`peek_access_receipt` (unverified: only for routing, storage lookups and statistics of
    already-verified tokens). A withdrawal receipt (``kind`` ``withdrawal``) accessed no claims
    (``claims_accessed`` is empty, ``purpose`` is ``""``); its ``accessed_at`` is when the service
    received the withdrawal.
    """

    token: str
    receipt_id: str
    service_did: str
    resident_pseudonym: Pseudonym
    consent_id: str
    claims_accessed: tuple[str, ...]
    purpose: str
    accessed_at: datetime
    presentation_hash: str
    kid: str | None
    kind: ReceiptKind = "access"

    def to_bytes(self) -> bytes:
        """The bytes a Merkle leaf commits to: the compact JWS as ASCII."""
        return self.token.encode("ascii")


def issue_access_receipt(
    signer: Signer,
    *,
    consent: ConsentRecord,
    receipt_id: str,
    claims: Sequence[str],
    purpose: str,
    now: datetime,
) -> str:
    """Sign an access receipt for an access the service made under ``consent``.

    :param signer: the service's key; its ``kid`` must be a DID URL of the consent's controller
        (``did:ethr:…#key-1``) so the wallet can find it by resolving that DID.
    :param consent: the consent the access relies on.
    :param receipt_id: a unique id for this receipt (e.g. a UUID).
    :param claims: the claim names accessed (a subset of the consent's disclosed claims).
    :param purpose: one of the consent's purposes.
    :param now: the time of the access.
    :raises InvalidInputError: if the signer's ``kid`` is not a key of the controller's DID or a
        field is malformed.
    :raises ClaimsNotConsentedError: if ``claims`` are not all disclosed under the consent.
    :raises PurposeNotConsentedError: if ``purpose`` is not a consent purpose.
    :raises ConsentExpiredError: if the consent expired before ``now``.
    :raises ConsentWithdrawnError: if the consent was withdrawn before ``now``.
    :return: the compact JWS.
    """
    did = _controller_signing(signer, consent, receipt_id)
    names = tuple(claims)
    if not names or len(set(names)) != len(names) or not all(isinstance(c, str) and c for c in names):
        raise InvalidInputError("claims must be a non-empty list of distinct claim names")
    payload: AccessReceiptClaims = {
        "iss": did,
        "sub": consent.resident_pseudonym,
        "jti": receipt_id,
        "iat": to_numeric_date(now),
        "consent_id": consent.record_id,
        "claims": list(names),
        "purpose": purpose,
        "presentation_hash": consent.presentation_hash,
    }
    receipt = _receipt_from_claims("", dict(payload), kid=signer.kid)
    _check_against_consent(receipt, consent, leeway=timedelta(0))
    return sign_jws(dict(payload), signer, typ=ACCESS_RECEIPT_TYP)


def _controller_signing(signer: Signer, consent: ConsentRecord, receipt_id: str) -> str:
    """The consent's controller DID, which the signer's ``kid`` must be a key of; ``receipt_id`` checked.

    :raises InvalidInputError: another ``kid``, or a malformed ``receipt_id``.
    """
    did = consent.controller.did
    if signer.kid is None or not signer.kid.startswith(did + "#"):
        raise InvalidInputError("the signer's kid must be a DID URL of the consent's controller (did#fragment)")
    if not isinstance(receipt_id, str) or _ID.fullmatch(receipt_id) is None:
        raise InvalidInputError("receipt_id must be 1-128 characters of [A-Za-z0-9._:~-]")
    return did


class ReceiptText(str):
    """The text of a receipt that carries its one parse (:attr:`jws`), made by :meth:`of`.

    The receipt verifiers given one use that parse instead of reading the text again, so a receipt
    previewed to find its consent (:func:`peek_access_receipt`, whose ``token`` is one) and then
    verified is split and its header and payload JSON parsed once. Every check still runs on the
    parse. Everywhere else it is the string it equals.

    The parse is bound to the text: :attr:`jws` cannot be assigned, and a verifier uses a carried
    parse only if its signing input and signature are exactly this text's; otherwise it reads the
    text, which is what gets verified.
    """

    @property
    def jws(self) -> UnverifiedJws:
        """The parse of this text (parsed now if not made by :meth:`of`).

        :raises InvalidTokenError: if the text is not a compact JWS.
        """
        return _decoded(self)

    @classmethod
    def of(cls, token: str | bytes) -> ReceiptText:
        """Parse ``token`` as a compact JWS of at most 16,384 bytes and keep the parse with its text.

        :raises InvalidTokenError: if the token is not a compact JWS.
        """
        if isinstance(token, ReceiptText) and _carried_jws(token) is not None:
            return token
        jws = decode_jws(token, max_bytes=MAX_RECEIPT_BYTES)
        text = cls(token.decode("ascii") if isinstance(token, bytes | bytearray) else token)
        text.__dict__[_CARRIED] = jws
        return text


_CARRIED = "_receipt_jws"


def _carried_jws(token: ReceiptText) -> UnverifiedJws | None:
    """The parse ``token`` carries, if it is one of exactly its text (``None`` otherwise)."""
    jws = token.__dict__.get(_CARRIED)
    if not isinstance(jws, UnverifiedJws):
        return None
    signing_input = jws.signing_input.decode("ascii", errors="replace")
    return jws if token == f"{signing_input}.{b64url_encode(jws.signature)}" else None


def _decoded(token: str) -> UnverifiedJws:
    """The token's parse: the one a :class:`ReceiptText` carries (if it is this text's), or a fresh one."""
    if isinstance(token, ReceiptText):
        carried = _carried_jws(token)
        if carried is not None:
            return carried
        jws = decode_jws(str(token), max_bytes=MAX_RECEIPT_BYTES)
        token.__dict__[_CARRIED] = jws
        return jws
    return decode_jws(token, max_bytes=MAX_RECEIPT_BYTES)


def peek_access_receipt(token: str) -> AccessReceipt:
    """Parse a receipt (access or withdrawal, by its ``typ``) without verifying it. Trust nothing in it yet.

    The receipt's ``token`` is a :class:`ReceiptText` carrying the parse: hand it to a verifier
    (:func:`verify_access_receipt`, :func:`verify_withdrawal_receipt` or their ``_resolved`` forms)
    and the token is not parsed again.

    :raises InvalidTokenError: if the token is not a compact JWS.
    :raises ClaimsError: if a receipt claim is missing or malformed.
    :return: the unverified receipt.
    """
    token = ReceiptText.of(token)
    return _read_unverified(token, token.jws)


def _read_unverified(token: str, jws: UnverifiedJws) -> AccessReceipt:
    """The receipt ``jws`` (the parse of ``token``) holds, by its ``typ``, unverified."""
    kid = jws.header.get("kid")
    kid = kid if isinstance(kid, str) else None
    if jws.header.get("typ") == WITHDRAWAL_RECEIPT_TYP:
        return _withdrawal_from_claims(token, jws.unverified_claims(), kid=kid)
    return _receipt_from_claims(token, jws.unverified_claims(), kid=kid)


def peek_receipts(tokens: Iterable[str]) -> list[tuple[AccessReceipt, UnverifiedJws]]:
    """:func:`peek_access_receipt` for the receipts of one intake call, each with its parse, for
    :class:`ReceiptVerifier`: each token split and its payload parsed once, each distinct header
    text once (a service signs all its receipts under one header); each receipt's ``token`` is the
    plain text.

    :raises InvalidTokenError: if a token is not a compact JWS.
    :raises ClaimsError: if a receipt claim is missing or malformed.
    """
    headers: dict[str, dict[str, Any]] = {}
    out = []
    for token in tokens:
        jws = decode_jws(token, max_bytes=MAX_RECEIPT_BYTES, headers=headers)
        text = token.decode("ascii") if isinstance(token, bytes | bytearray) else str.__str__(token)
        out.append((_read_unverified(text, jws), jws))
    return out


class ReceiptVerifier:
    """Verifies the receipts :func:`peek_receipts` read, each exactly as :func:`verify_access_receipt`
    or :func:`verify_withdrawal_receipt` (by its ``kind``) would, with what is the same for all of
    them done once: the policy and the latest time a receipt may carry for ``now``, and each distinct
    header's JOSE check per key.

    :raises InvalidInputError: if ``now`` is naive or ``policy`` is not a policy.
    """

    __slots__ = ("_checked", "_latest", "_policy")

    def __init__(self, *, now: datetime, policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY) -> None:
        self._policy = verification_policy(policy)
        self._latest = aware(now, what="now") + self._policy.leeway
        # (header, key, typ) by identity -> the checked alg; the value holds the header and key, so
        # their identities cannot pass to other objects while the entry exists.
        self._checked: dict[tuple[int, int, str], tuple[str, dict[str, Any], Key]] = {}

    def verify(
        self, receipt: AccessReceipt, jws: UnverifiedJws, *, consent: ConsentRecord, service_key: Key
    ) -> AccessReceipt:
        """Verify ``receipt`` (read from ``jws``, as :func:`peek_receipts` gave both) against
        ``consent`` with ``service_key``.

        :raises VerificationError: any error :func:`verify_access_receipt` or
            :func:`verify_withdrawal_receipt` raises for the receipt.
        :return: the verified receipt (``receipt`` itself: the verified claims are the ones it was read from).
        """
        withdrawal = receipt.kind == "withdrawal"
        typ = WITHDRAWAL_RECEIPT_TYP if withdrawal else ACCESS_RECEIPT_TYP
        header = jws.header
        algorithms = self._policy.algorithm_policy
        seen = (id(header), id(service_key), typ)
        checked = self._checked.get(seen)
        if checked is None:
            alg = check_jose_header(header, service_key, policy=algorithms, typ=typ)
            self._checked[seen] = (alg, header, service_key)
        else:
            alg = checked[0]
        verify_signature(service_key, jws.signing_input, jws.signature, alg, algorithms)
        _check_kid(receipt)
        if withdrawal:
            _check_not_future(receipt, self._latest, "time")
            _check_withdrawal_against_consent(receipt, jws.unverified_claims(), consent, leeway=self._policy.leeway)
        else:
            _check_not_future(receipt, self._latest, "access time")
            _check_against_consent(receipt, consent, leeway=self._policy.leeway)
        return receipt


def verify_access_receipt(
    token: str,
    *,
    consent: ConsentRecord,
    service_key: Key,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
) -> AccessReceipt:
    """Verify an access receipt on the wallet side before accepting it.

    Checks, each with its own error: JWS parse, algorithm allow-list, no key in the header, ``typ``,
    signature with the service's key, ``kid`` under the service's DID, claim shapes, not issued in
    the future, and consistency with ``consent``.

    :param token: the compact JWS the service returned.
    :param consent: the consent the wallet holds for this service.
    :param service_key: the key resolved from the service's DID for the token's ``kid``.
    :param now: the current time (the receipt's ``iat`` may not be later than ``now + policy.leeway``).
    :param policy: the algorithm allow-list and the clock skew (``leeway``) tolerated for ``iat``.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit the key.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises TokenTypeError: if ``typ`` is not ``access-receipt+jwt``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises KeyNotFoundError: if ``kid`` is not a DID URL of the receipt's issuer.
    :raises ClaimsError: if a receipt claim is missing or malformed.
    :raises TokenNotYetValidError: if ``iat`` is after ``now + policy.leeway``.
    :raises ConsentMismatchError: if the receipt names another consent, service, resident or
        presentation, or an access before the consent was given.
    :raises ClaimsNotConsentedError: if it accessed claims not disclosed under the consent.
    :raises PurposeNotConsentedError: if its purpose is not a consent purpose.
    :raises ConsentExpiredError: if the access is at or after the consent's expiry.
    :raises ConsentWithdrawnError: if the access is at or after the consent's withdrawal.
    :return: the verified receipt.
    """
    policy = verification_policy(policy)
    receipt, _ = _verified_receipt(
        token, service_key, policy, now, typ=ACCESS_RECEIPT_TYP, read=_receipt_from_claims, moment="access time"
    )
    _check_against_consent(receipt, consent, leeway=policy.leeway)
    return receipt


def _verified_receipt(
    token: str,
    service_key: Key,
    policy: VerificationPolicy,
    now: datetime,
    *,
    typ: str,
    read: Callable[[str, dict[str, Any], str | None], AccessReceipt],
    moment: str,
) -> tuple[AccessReceipt, dict[str, Any]]:
    """What verifying either receipt starts with: the signature through the one JOSE path (``typ``),
    the claims (``read``), a ``kid`` under the service's DID, and a time (``moment``) not in the future.

    :return: the receipt and its verified claims.
    """
    verified = verify_jws(_decoded(token), service_key, policy=policy.algorithm_policy, typ=typ)
    claims = verified.claims()
    # The verified receipt keeps the plain text, not the parse the text may carry.
    receipt = read(str.__str__(token), claims, verified.kid)
    _check_kid(receipt)
    _check_not_future(receipt, aware(now, what="now") + policy.leeway, moment)
    return receipt, claims


def _check_kid(receipt: AccessReceipt) -> None:
    if receipt.kid is None or not receipt.kid.startswith(receipt.service_did + "#"):
        raise KeyNotFoundError("the receipt's kid is not a key of the service's DID; the service must sign with it")


def _check_not_future(receipt: AccessReceipt, latest: datetime, moment: str) -> None:
    if receipt.accessed_at > latest:
        raise TokenNotYetValidError(f"the receipt's {moment} is in the future; check the service's clock")


async def verify_access_receipt_resolved(
    token: str,
    *,
    consent: ConsentRecord,
    resolver: IssuerKeyResolver,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
) -> AccessReceipt:
    """Resolve the service's key through ``resolver``, then run :func:`verify_access_receipt`.

    The key is looked up for the consent's controller DID (never for a DID the token chooses),
    relationship ``assertionMethod``, by the token's ``kid``.

    :raises KeyNotFoundError: if the ``kid`` is missing or not a key of the controller's DID.
    :raises DidResolutionError: if the controller's DID cannot be resolved.
    :raises VerificationError: any error :func:`verify_access_receipt` raises.
    :return: the verified receipt.
    """
    key = await _service_key(token, consent, resolver)
    return verify_access_receipt(
        token, consent=consent, service_key=key, now=now, policy=verification_policy(policy)
    )


async def _service_key(token: str, consent: ConsentRecord, resolver: IssuerKeyResolver) -> Key:
    """The key named by the token's ``kid``, looked up for the consent's controller DID (never a DID
    the token chooses), relationship ``assertionMethod``."""
    did, kid = service_kid(token, consent)
    return await resolver.resolve_key(did, kid, relationship="assertionMethod")


def service_kid(token: str, consent: ConsentRecord) -> tuple[str, str]:
    """Where a receipt's key is looked up: the consent's controller DID (never a DID the token
    chooses) and the token's ``kid``, which must be a DID URL under it.

    :raises InvalidTokenError: if the token is not a compact JWS.
    :raises KeyNotFoundError: if the ``kid`` is missing or not under the controller's DID.
    """
    return _controller_kid(_decoded(token).header.get("kid"), consent)


def controller_kid(receipt: AccessReceipt, consent: ConsentRecord) -> tuple[str, str]:
    """:func:`service_kid` for a receipt :func:`peek_receipts` read."""
    return _controller_kid(receipt.kid, consent)


def _controller_kid(kid: object, consent: ConsentRecord) -> tuple[str, str]:
    did = consent.controller.did
    if not isinstance(kid, str) or not kid.startswith(did + "#"):
        raise KeyNotFoundError("the receipt's kid is not a key of the consent's controller DID")
    return did, kid


_ACCESS_CLAIMS = frozenset(AccessReceiptClaims.__annotations__)
_ACCESS_STRINGS = ("iss", "sub", "jti", "consent_id", "purpose", "presentation_hash")
_WITHDRAWAL_CLAIMS = frozenset(WithdrawalReceiptClaims.__annotations__)
_WITHDRAWAL_STRINGS = ("iss", "sub", "jti", "consent_id", "presentation_hash", "record_hash")


def _receipt_from_claims(token: str, claims: dict[str, Any], kid: str | None) -> AccessReceipt:
    _require_claims(claims, _ACCESS_CLAIMS, _ACCESS_STRINGS, what="access receipt")
    accessed = claims["claims"]
    if (
        not isinstance(accessed, list)
        or not accessed
        or len(accessed) > 64
        or not all([isinstance(c, str) and c for c in accessed])
        or len(set(accessed)) != len(accessed)
    ):
        raise ClaimsError("access receipt claim 'claims' must be a non-empty list of distinct names")
    accessed_at = from_numeric_date(claims["iat"], what="access receipt iat", error=ClaimsError, whole=True)
    return _receipt(token, claims, kid, accessed_at, claims_accessed=tuple(accessed), purpose=claims["purpose"])


def _require_claims(
    claims: dict[str, Any], required: frozenset[str], strings: tuple[str, ...], *, what: str
) -> None:
    """Every ``required`` claim present, and each of ``strings`` a non-empty string."""
    if not claims.keys() >= required:
        raise ClaimsError(f"{what} lacks the claims {sorted(required - claims.keys())}")
    for name in strings:
        value = claims[name]
        if not isinstance(value, str) or not value:
            raise ClaimsError(f"{what} claim {name!r} must be a non-empty string")


def _receipt(
    token: str,
    claims: dict[str, Any],
    kid: str | None,
    at: datetime,
    *,
    claims_accessed: tuple[str, ...] = (),
    purpose: str = "",
    kind: ReceiptKind = "access",
) -> AccessReceipt:
    """The receipt from claims already checked: the members both kinds carry, and the kind's own."""
    return AccessReceipt(
        token=token,
        receipt_id=claims["jti"],
        service_did=claims["iss"],
        resident_pseudonym=Pseudonym(claims["sub"]),
        consent_id=claims["consent_id"],
        claims_accessed=claims_accessed,
        purpose=purpose,
        accessed_at=at,
        presentation_hash=claims["presentation_hash"],
        kid=kid,
        kind=kind,
    )


def _check_against_consent(receipt: AccessReceipt, consent: ConsentRecord, *, leeway: timedelta) -> None:
    if receipt.consent_id != consent.record_id:
        raise ConsentMismatchError("the receipt names another consent than the one given to this service")
    if receipt.service_did != consent.controller.did:
        raise ConsentMismatchError("the receipt's service is not the consent's controller")
    if receipt.resident_pseudonym != consent.resident_pseudonym:
        raise ConsentMismatchError("the receipt names another resident pseudonym than the consent")
    if receipt.presentation_hash != consent.presentation_hash:
        raise ConsentMismatchError("the receipt covers another presentation than the consent")
    # iat is a whole-second NumericDate (RFC 7519): compare at that granularity, so an access in the
    # same second as the consent is not "before" it. (A record keeps whole seconds already; replace()
    # costs about a microsecond, so only when there is something to drop.)
    given = consent.given_at
    if given.microsecond:
        given = given.replace(microsecond=0)
    if receipt.accessed_at < given - leeway:
        raise ConsentMismatchError("the receipt records an access before the consent was given")
    extra = set(receipt.claims_accessed).difference(consent.claims_disclosed)
    if extra:
        # The message counts the claims but never names their values.
        raise ClaimsNotConsentedError(
            f"the receipt accessed {len(extra)} claim(s) the resident did not disclose under this consent"
        )
    if receipt.purpose not in consent.purposes:
        raise PurposeNotConsentedError("the receipt's purpose is not one the resident consented to")
    if consent.expires_at is not None and receipt.accessed_at >= consent.expires_at:
        raise ConsentExpiredError("the access happened after the consent expired")
    if consent.withdrawn_at is not None and receipt.accessed_at >= consent.withdrawn_at:
        raise ConsentWithdrawnError("the access happened after the resident withdrew the consent")


# -- withdrawal receipts ---------------------------------------------------------------------------


def _record_hash(consent: ConsentRecord) -> str:
    return b64url_encode(hashlib.sha256(consent.to_bytes()).digest())


def issue_withdrawal_receipt(signer: Signer, *, consent: ConsentRecord, receipt_id: str, now: datetime) -> str:
    """Sign the receipt a service returns for a withdrawal it received (:func:`accept_withdrawal`).

    :param signer: the service's key; its ``kid`` a DID URL of the consent's controller.
    :param consent: the withdrawn record, as the wallet delivered it.
    :param receipt_id: a unique id for this receipt.
    :param now: when the service received the withdrawal.
    :raises InvalidInputError: if the consent is not withdrawn, the ``kid`` is not the controller's,
        or ``now`` is before the withdrawal.
    :return: the compact JWS.
    """
    did = _controller_signing(signer, consent, receipt_id)
    if consent.withdrawn_at is None:
        raise InvalidInputError("a withdrawal receipt is for a withdrawn consent")
    if aware(now, what="now") < consent.withdrawn_at:
        raise InvalidInputError("a withdrawal cannot be received before it was made")
    payload: WithdrawalReceiptClaims = {
        "iss": did,
        "sub": consent.resident_pseudonym,
        "jti": receipt_id,
        "iat": to_numeric_date(now),
        "consent_id": consent.record_id,
        "presentation_hash": consent.presentation_hash,
        "withdrawn_at": to_numeric_date(consent.withdrawn_at),
        "record_hash": _record_hash(consent),
    }
    return sign_jws(dict(payload), signer, typ=WITHDRAWAL_RECEIPT_TYP)


def verify_withdrawal_receipt(
    token: str,
    *,
    consent: ConsentRecord,
    service_key: Key,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
) -> AccessReceipt:
    """Verify a withdrawal receipt on the wallet side: signed by the service, for exactly the
    withdrawn record the wallet delivered.

    :param consent: the withdrawn record the wallet delivered.
    :raises InvalidTokenError: if the token cannot be parsed.
    :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit the key.
    :raises UntrustedKeyError: if the header carries its own key.
    :raises TokenTypeError: if ``typ`` is not ``withdrawal-receipt+jwt``.
    :raises SignatureInvalidError: if the signature does not verify.
    :raises KeyNotFoundError: if ``kid`` is not a DID URL of the service's DID.
    :raises ClaimsError: if a claim is missing or malformed.
    :raises TokenNotYetValidError: if ``iat`` is after ``now + policy.leeway``.
    :raises ConsentMismatchError: another consent, service, resident, presentation, withdrawal time or
        record, or a receipt dated before the withdrawal.
    :return: the verified receipt (``kind`` ``withdrawal``).
    """
    policy = verification_policy(policy)
    receipt, claims = _verified_receipt(
        token, service_key, policy, now, typ=WITHDRAWAL_RECEIPT_TYP, read=_withdrawal_from_claims, moment="time"
    )
    _check_withdrawal_against_consent(receipt, claims, consent, leeway=policy.leeway)
    return receipt


def _check_withdrawal_against_consent(
    receipt: AccessReceipt, claims: dict[str, Any], consent: ConsentRecord, *, leeway: timedelta
) -> None:
    if receipt.consent_id != consent.record_id or receipt.service_did != consent.controller.did:
        raise ConsentMismatchError("the withdrawal receipt names another consent or service")
    if receipt.resident_pseudonym != consent.resident_pseudonym:
        raise ConsentMismatchError("the withdrawal receipt names another resident pseudonym")
    if receipt.presentation_hash != consent.presentation_hash:
        raise ConsentMismatchError("the withdrawal receipt covers another presentation")
    if consent.withdrawn_at is None or claims["withdrawn_at"] != to_numeric_date(consent.withdrawn_at):
        raise ConsentMismatchError("the withdrawal receipt names another withdrawal time")
    if claims["record_hash"] != _record_hash(consent):
        raise ConsentMismatchError("the withdrawal receipt is for another version of the consent record")
    if receipt.accessed_at < consent.withdrawn_at - leeway:
        raise ConsentMismatchError("the withdrawal receipt is dated before the withdrawal")


async def verify_withdrawal_receipt_resolved(
    token: str,
    *,
    consent: ConsentRecord,
    resolver: IssuerKeyResolver,
    now: datetime,
    policy: VerificationPolicy = DEFAULT_VERIFICATION_POLICY,
) -> AccessReceipt:
    """Resolve the service's key for the consent's controller DID, then :func:`verify_withdrawal_receipt`.

    :raises KeyNotFoundError: if the ``kid`` is missing or not a key of the controller's DID.
    :raises DidResolutionError: if the controller's DID cannot be resolved.
    :raises VerificationError: any error :func:`verify_withdrawal_receipt` raises.
    """
    key = await _service_key(token, consent, resolver)
    return verify_withdrawal_receipt(
        token, consent=consent, service_key=key, now=now, policy=verification_policy(policy)
    )


def _withdrawal_from_claims(token: str, claims: dict[str, Any], kid: str | None) -> AccessReceipt:
    _require_claims(claims, _WITHDRAWAL_CLAIMS, _WITHDRAWAL_STRINGS, what="withdrawal receipt")
    received_at = from_numeric_date(claims["iat"], what="withdrawal receipt iat", error=ClaimsError, whole=True)
    from_numeric_date(claims["withdrawn_at"], what="withdrawal receipt withdrawn_at", error=ClaimsError, whole=True)
    return _receipt(token, claims, kid, received_at, kind="withdrawal")
