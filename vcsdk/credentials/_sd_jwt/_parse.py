"""Parse SD-JWTs and presentations: compact (``~``-separated) and JWS JSON (RFC 9901 §8)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from vcsdk.credentials._sd_jwt._common import SEPARATOR, Disclosure, loads
from vcsdk.errors import MalformedTokenError
from vcsdk.keys import decode_jws

__all__ = ["DEFAULT_LIMITS", "Limits", "SdJwtText", "Serialization", "UnverifiedSdJwt", "parse", "split_jws"]

Serialization = Literal["compact", "json"]

#: RFC 9901 §8.1: unprotected header members of the JWS JSON serialization.
JSON_DISCLOSURES_KEY = "disclosures"
JSON_KB_JWT_KEY = "kb_jwt"


@dataclass(frozen=True, slots=True)
class Limits:
    """Input limits applied while parsing (a :class:`VerificationPolicy` carries its own)."""

    max_token_bytes: int = 512 * 1024
    max_disclosures: int = 1000


DEFAULT_LIMITS = Limits()


class HasLimits(Protocol):
    """Anything carrying the two parse limits: :class:`Limits` or a ``VerificationPolicy``."""

    @property
    def max_token_bytes(self) -> int: ...

    @property
    def max_disclosures(self) -> int: ...


@dataclass(frozen=True, slots=True)
class UnverifiedSdJwt:
    """A parsed SD-JWT or SD-JWT+KB. Nothing in it is verified yet.

    ``issuer_jwt`` is the compact form ``header.payload.signature`` of the Issuer-signed JWT (for
    the JSON serialization, rebuilt from the signature that carries the Disclosures), and
    ``sd_hash_input`` is what a KB-JWT's ``sd_hash`` covers.
    """

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes
    disclosures: tuple[Disclosure, ...]
    kb_jwt: str | None
    serialization: Serialization
    issuer_jwt: str
    #: for the JSON serialization: the parsed JSON object, to re-serialize a presentation.
    json_object: dict[str, Any] | None = None
    #: for the compact serialization: the presented text up to and including the last ``~``.
    presented_sd_jwt: str | None = None
    # The KB-JWT decoded once, when first asked for (the view and the verification share it).
    _kb_jws: tuple[dict[str, Any], bytes, bytes, bytes] | None = field(default=None, repr=False, compare=False)
    _kb_payload: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def sd_hash_input(self) -> str:
        """``<Issuer-signed JWT>~<Disclosure 1>~…~<Disclosure N>~`` (RFC 9901 §4.3.1, §8)."""
        if self.presented_sd_jwt is not None:
            # Compact: exactly the presented characters, which parse split into these parts.
            return self.presented_sd_jwt
        parts = [self.issuer_jwt, *(d.encoded for d in self.disclosures)]
        return SEPARATOR.join(parts) + SEPARATOR

    def unverified_kb_jwt(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The KB-JWT's header and payload, unverified (``None`` without a KB-JWT).

        :raises MalformedTokenError: if the KB-JWT cannot be decoded.
        """
        parts = self.kb_jws()
        if parts is None:
            return None
        return parts[0], self.kb_payload()

    def kb_jws(self) -> tuple[dict[str, Any], bytes, bytes, bytes] | None:
        """The KB-JWT split and its header decoded: (header, payload bytes, signing input,
        signature); decoded once, however often it is asked for (``None`` without a KB-JWT).

        :raises MalformedTokenError: if the KB-JWT is not a compact JWS with a JSON-object header.
        """
        if self.kb_jwt is None:
            return None
        if self._kb_jws is None:
            object.__setattr__(self, "_kb_jws", split_jws(self.kb_jwt, "KB-JWT"))
        return self._kb_jws

    def kb_payload(self) -> dict[str, Any]:
        """The KB-JWT's payload, decoded once (an empty object without a KB-JWT).

        :raises MalformedTokenError: if it is not a JSON object.
        """
        if self._kb_payload is None:
            parts = self.kb_jws()
            if parts is None:
                return {}
            payload = loads(parts[1], "KB-JWT payload")
            if not isinstance(payload, dict):
                raise MalformedTokenError("KB-JWT payload is not a JSON object")
            object.__setattr__(self, "_kb_payload", payload)
        return self._kb_payload  # type: ignore[return-value]

    def __repr__(self) -> str:
        return (
            f"UnverifiedSdJwt({self.serialization}, alg={self.header.get('alg')!r}, "
            f"{len(self.disclosures)} disclosures, key_binding={self.kb_jwt is not None})"
        )


def split_jws(compact: str, what: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """Split and decode a compact JWS through the one decoder (:func:`vcsdk.keys.decode_jws`):
    (header, payload bytes, signing input, signature).

    :raises MalformedTokenError: unless three base64url parts with a JSON-object header.
    """
    jws = decode_jws(compact, max_bytes=len(compact), what=what)
    return jws.header, jws.payload, jws.signing_input, jws.signature


def _payload_object(payload: bytes) -> dict[str, Any]:
    value = loads(payload, "SD-JWT payload")
    if not isinstance(value, dict):
        raise MalformedTokenError("SD-JWT payload is not a JSON object")
    return value


def _text(token: object, limits: HasLimits) -> str:
    if isinstance(token, bytes | bytearray):
        if len(token) > limits.max_token_bytes:
            raise MalformedTokenError(f"token is larger than {limits.max_token_bytes} bytes", code="token_too_large")
        try:
            return bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise MalformedTokenError("token is not ASCII text") from None
    if not isinstance(token, str):
        raise MalformedTokenError("token must be a string")
    if len(token) > limits.max_token_bytes:
        raise MalformedTokenError(f"token is larger than {limits.max_token_bytes} bytes", code="token_too_large")
    if not token.isascii():
        raise MalformedTokenError("token is not ASCII text")
    return token


_TRUNCATED = (
    "the token looks truncated: it stops {where}; an SD-JWT ends with '~' or with a complete KB-JWT. "
    "Copy the whole token (it is often longer than a terminal line or a form field)"
)
#: base64url length of a 64-byte signature: ES256, ES256K and EdDSA, every algorithm the allow-list has.
_SIGNATURE_CHARS = 86


def _cut_short(part: str) -> bool:
    """Whether a part that should be a compact JWT stops early: fewer than three parts, or a
    non-empty signature shorter than any allowed algorithm's (an empty one is ``alg: none``,
    refused later with its own error)."""
    pieces = part.split(".")
    if len(pieces) < 3:
        return True
    return len(pieces) == 3 and 0 < len(pieces[2]) < _SIGNATURE_CHARS


class SdJwtText(str):
    """The text of an SD-JWT that carries its one parse (:attr:`parsed`), made by :meth:`of`.

    :func:`parse` given one returns that parse (after checking the limits it is given) instead of
    reading the text again, so a token handed on through code that passes strings (an OpenID4VP
    verifier's ``verify`` callback calling ``verify_presentation``) is still parsed once per
    verification. Everywhere else it is the string it equals.

    The parse is bound to the text: :attr:`parsed` cannot be assigned, and :func:`parse` uses a
    carried parse only if it is a parse of exactly this text (for the compact serialization, its
    parts joined again are the text); otherwise it reads the text, which is what gets verified.
    """

    @property
    def parsed(self) -> UnverifiedSdJwt:
        """The parse of this text (parsed now under the default limits if not made by :meth:`of`).

        :raises MalformedTokenError: as :func:`parse`.
        """
        carried = _carried_parse(self, self)
        if carried is None:
            carried = parse(str(self))
            self.__dict__[_CARRIED] = (str(self), carried)
        return carried

    @classmethod
    def of(cls, token: str | bytes, *, limits: HasLimits = DEFAULT_LIMITS) -> SdJwtText:
        """Parse ``token`` (see :func:`parse`) and keep the parse with its text.

        :raises MalformedTokenError: as :func:`parse`.
        """
        source = _text(token, limits)
        parsed = parse(str(source), limits=limits)
        text = cls(source)
        text.__dict__[_CARRIED] = (str(source), parsed)
        return text


_CARRIED = "_sd_jwt_parse"


def _carried_parse(token: SdJwtText, text: str) -> UnverifiedSdJwt | None:
    """The parse ``token`` carries, if it is one of exactly ``text`` (``None`` otherwise)."""
    carried = token.__dict__.get(_CARRIED)
    if not isinstance(carried, tuple) or len(carried) != 2:
        return None
    source, done = carried
    if not isinstance(done, UnverifiedSdJwt) or not isinstance(source, str) or source != text:
        return None
    if done.serialization == "compact" and (
        done.presented_sd_jwt is None or done.presented_sd_jwt + (done.kb_jwt or "") != text
    ):
        return None
    return done


def parse(token: str | bytes, *, limits: HasLimits = DEFAULT_LIMITS) -> UnverifiedSdJwt:
    """Parse an SD-JWT (issuance) or SD-JWT+KB (presentation), compact or JWS JSON, unverified.

    Compact: ``<JWT>~<D1>~…~<DN>~[<KB-JWT>]``. JSON (flattened or general): the Disclosures and
    the KB-JWT sit in the unprotected ``header`` (of the first signature, for general), as
    RFC 9901 §8 specifies; the pre-RFC layout with top-level ``disclosures`` is refused.

    :param token: the token; an :class:`SdJwtText` is not parsed again.
    :param limits: largest token and most Disclosures accepted (a :class:`Limits` or a policy).
    :raises MalformedTokenError: (an ``InvalidInputError``) on anything malformed or over a limit.
    :return: the parts, unverified.
    """
    text = _text(token, limits)
    done = _carried_parse(token, text) if isinstance(token, SdJwtText) else None
    if done is not None:
        # Parsed when the text was made (perhaps under other limits): these limits still apply.
        if len(done.disclosures) > limits.max_disclosures:
            raise MalformedTokenError(
                f"token carries more than {limits.max_disclosures} Disclosures", code="too_many_disclosures"
            )
        return done
    if text[:1] == "{":
        return _parse_json(text, limits)
    parts = text.split(SEPARATOR)
    if len(parts) < 2:
        if _cut_short(text):
            raise MalformedTokenError(
                _TRUNCATED.format(where="inside its issuer-signed JWT, before any '~'"), code="truncated_token"
            )
        raise MalformedTokenError("an SD-JWT ends with '~' (compact serialization: <JWT>~<Disclosures>~[<KB-JWT>])")
    if parts[-1] and _cut_short(parts[-1]):
        # Not '~' and not a whole KB-JWT: the text stops inside its last Disclosure or KB-JWT. Said
        # here, before the digest checks would report a cut Disclosure as merely "unreferenced".
        raise MalformedTokenError(
            _TRUNCATED.format(where="inside its last part (a Disclosure or the KB-JWT)"), code="truncated_token"
        )
    if len(parts) - 2 > limits.max_disclosures:
        raise MalformedTokenError(
            f"token carries more than {limits.max_disclosures} Disclosures", code="too_many_disclosures"
        )
    jwt, *encoded, last = parts
    header, payload, signing_input, signature = split_jws(jwt, "Issuer-signed JWT")
    if "" in encoded:
        raise MalformedTokenError("empty Disclosure between '~' separators")
    parse_disclosure = Disclosure.parse
    return UnverifiedSdJwt(
        header,
        _payload_object(payload),
        signing_input,
        signature,
        tuple([parse_disclosure(item) for item in encoded]),
        last or None,
        "compact",
        jwt,
        None,
        text[: len(text) - len(last)],
    )


def _parse_json(text: str, limits: HasLimits) -> UnverifiedSdJwt:
    obj = loads(text.encode("ascii"), "SD-JWT JSON serialization")
    if not isinstance(obj, dict):
        raise MalformedTokenError("SD-JWT JSON serialization is not a JSON object")
    if JSON_DISCLOSURES_KEY in obj or JSON_KB_JWT_KEY in obj:
        raise MalformedTokenError(
            "top-level 'disclosures'/'kb_jwt' is the pre-RFC 9901 layout; "
            "RFC 9901 §8 puts them in the unprotected 'header'"
        )
    payload_b64 = obj.get("payload")
    if "signatures" in obj:
        sigs = obj["signatures"]
        if not isinstance(sigs, list) or not sigs or not all(isinstance(s, dict) for s in sigs):
            raise MalformedTokenError("general JSON serialization needs a non-empty 'signatures' array")
        first: dict[str, Any] = sigs[0]
        for other in sigs[1:]:
            extra = other.get("header")
            if isinstance(extra, dict) and (JSON_DISCLOSURES_KEY in extra or JSON_KB_JWT_KEY in extra):
                # RFC 9901 §8: only the first signature's header may carry them.
                raise MalformedTokenError("only the first signature's header may carry disclosures or kb_jwt")
    else:
        first = obj
    protected, signature_b64 = first.get("protected"), first.get("signature")
    unprotected = first.get("header", {})
    if not all(isinstance(v, str) for v in (payload_b64, protected, signature_b64)) or not isinstance(
        unprotected, dict
    ):
        raise MalformedTokenError("JWS JSON serialization needs string 'payload', 'protected' and 'signature'")
    encoded = unprotected.get(JSON_DISCLOSURES_KEY, [])
    kb_jwt = unprotected.get(JSON_KB_JWT_KEY)
    if not isinstance(encoded, list) or not all(isinstance(e, str) and e for e in encoded):
        raise MalformedTokenError("header 'disclosures' must be an array of Disclosure strings")
    if len(encoded) > limits.max_disclosures:
        raise MalformedTokenError(
            f"token carries more than {limits.max_disclosures} Disclosures", code="too_many_disclosures"
        )
    if kb_jwt is not None and (not isinstance(kb_jwt, str) or not kb_jwt):
        raise MalformedTokenError("header 'kb_jwt' must be a compact JWT")
    jwt = f"{protected}.{payload_b64}.{signature_b64}"
    header, payload, signing_input, signature = split_jws(jwt, "Issuer-signed JWT")
    # The protected header is what the signature covers; unprotected members other than ours are ignored.
    return UnverifiedSdJwt(
        header,
        _payload_object(payload),
        signing_input,
        signature,
        tuple(Disclosure.parse(e) for e in encoded),
        kb_jwt,
        "json",
        jwt,
        obj,
    )
