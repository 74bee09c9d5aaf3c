"""Keys as JWK: generate, import, export, RFC 7638 thumbprints, raw JWS signatures."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NewType, Protocol, get_args, runtime_checkable

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwcrypto import jwk as _jwk
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

from vcsdk._b64 import b64url_encode
from vcsdk._json import canonical_json
from vcsdk.errors import InvalidInputError, SignatureInvalidError, UnsupportedAlgorithmError

__all__ = [
    "ALGORITHM_FOR_CURVE",
    "DEFAULT_POLICY",
    "Algorithm",
    "AlgorithmPolicy",
    "AlgorithmPolicySource",
    "Curve",
    "Key",
    "Kid",
    "Signer",
]

Kid = NewType("Kid", str)
Curve = Literal["P-256", "secp256k1", "Ed25519"]
Algorithm = Literal["ES256", "ES256K", "EdDSA"]

#: The JWS algorithm each supported curve signs with. This table *is* the allow-list's universe:
#: ``none``, ``HS*``, RSA and everything else are simply not members, so no flag can enable them.
ALGORITHM_FOR_CURVE: dict[str, Algorithm] = {"P-256": "ES256", "secp256k1": "ES256K", "Ed25519": "EdDSA"}
_CURVE_FOR_ALGORITHM: dict[str, str] = {alg: crv for crv, alg in ALGORITHM_FOR_CURVE.items()}
_KTY_FOR_CURVE = {"P-256": "EC", "secp256k1": "EC", "Ed25519": "OKP"}
_EC_CURVES: dict[str, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "secp256k1": ec.SECP256K1()}

_ECDSA_SHA256 = ECAlgorithm(ECAlgorithm.SHA256)
_EDDSA = OKPAlgorithm()


@dataclass(frozen=True, slots=True)
class AlgorithmPolicy:
    """An explicit allow-list of JWS algorithms (modelled on joserfc's ``JWSRegistry``).

    Only ``ES256``, ``ES256K`` and ``EdDSA`` can ever be members.

    :param names: the algorithms a verifier accepts, e.g. ``("ES256",)`` for device keys only.
    """

    names: tuple[str, ...] = ("ES256", "ES256K", "EdDSA")

    def __post_init__(self) -> None:
        known = set(get_args(Algorithm))
        for name in self.names:
            if name not in known:
                raise UnsupportedAlgorithmError(
                    f"algorithm {name!r} cannot be allowed; vcsdk supports only {sorted(known)}"
                )

    def check(self, alg: object) -> Algorithm:
        """Return ``alg`` if this policy allows it.

        :raises UnsupportedAlgorithmError: for any other value (``none``, ``HS256``, non-strings, …).
        """
        if not isinstance(alg, str) or alg not in self.names:
            shown = alg if isinstance(alg, str) and len(alg) <= 32 else type(alg).__name__
            raise UnsupportedAlgorithmError(
                f"algorithm {shown!r} is not allowed; this verifier accepts {list(self.names)}"
            )
        return alg  # type: ignore[return-value]

    @property
    def algorithm_policy(self) -> AlgorithmPolicy:
        """This policy: what a ``VerificationPolicy`` also has, so the JOSE functions take either."""
        return self

    def __repr__(self) -> str:
        return f"AlgorithmPolicy(names={self.names!r})"


DEFAULT_POLICY = AlgorithmPolicy()


@runtime_checkable
class AlgorithmPolicySource(Protocol):
    """What the JOSE functions read a policy's algorithms from: an :class:`AlgorithmPolicy`, or the
    ``vcsdk.credentials.VerificationPolicy`` a service passes to every ``verify_*`` function."""

    @property
    def algorithm_policy(self) -> AlgorithmPolicy:
        """The allow-list of JWS algorithms."""
        ...


class Signer(Protocol):
    """Anything that can make a raw JWS signature: a :class:`Key`, a phone's secure enclave, an HSM.

    ``sign`` returns the JWS signature bytes (``R || S`` for ECDSA, RFC 7518 §3.4).
    """

    @property
    def alg(self) -> str: ...

    @property
    def kid(self) -> str | None: ...

    def sign(self, data: bytes) -> bytes: ...


PrivateKeyTypes = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKeyTypes = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

#: cryptography's curve names for the elliptic curves a Key may use.
_CURVE_NAMES = {"secp256r1": "P-256", "secp256k1": "secp256k1"}


#: Public keys imported from JWKs, by their members (kty, crv, x, y): the oldest goes when full.
_PUBLIC_KEYS: dict[tuple[str, str, str | None, str | None], Any] = {}
_PUBLIC_KEYS_KEPT = 4096


class Key:
    """A P-256, secp256k1 or Ed25519 key, public or private, exchanged as JWK.

    ``kid`` is the RFC 7638 thumbprint (base64url SHA-256) of the public key unless set.
    ``repr`` shows the curve and ``kid``, never private material.
    """

    __slots__ = ("_kid", "_private", "_public", "_public_members", "curve")

    def __init__(self, key: PrivateKeyTypes | PublicKeyTypes, *, kid: str | None = None) -> None:
        # Public EC keys first: every verification builds one (the issuer's, the holder's cnf key).
        private: PrivateKeyTypes | None
        public: PublicKeyTypes
        if isinstance(key, ec.EllipticCurvePublicKey):
            private, public = None, key
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            private, public = key, key.public_key()
        elif isinstance(key, ed25519.Ed25519PublicKey):
            private, public = None, key
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            private, public = key, key.public_key()
        else:
            raise UnsupportedAlgorithmError(f"key type {type(key).__name__} is not supported")
        if isinstance(public, ec.EllipticCurvePublicKey):
            name = public.curve.name
            curve = _CURVE_NAMES.get(name)
            if curve is None:
                raise UnsupportedAlgorithmError(f"elliptic curve {name} is not supported")
            self.curve: str = curve
        else:
            self.curve = "Ed25519"
        self._private: PrivateKeyTypes | None = private
        self._public: PublicKeyTypes = public
        self._kid = kid
        # The public JWK's members, made on first use (the key never changes); callers get copies.
        self._public_members: dict[str, str] | None = None

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def generate(cls, curve: Curve = "P-256") -> Key:
        """Make a new private key on ``curve`` (``P-256``, ``secp256k1`` or ``Ed25519``).

        :raises UnsupportedAlgorithmError: for any other curve.
        """
        if curve == "Ed25519":
            return cls(ed25519.Ed25519PrivateKey.generate())
        if curve in _EC_CURVES:
            return cls(ec.generate_private_key(_EC_CURVES[curve]))
        raise UnsupportedAlgorithmError(f"curve {curve!r} is not supported; use P-256, secp256k1 or Ed25519")

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any] | str | bytes) -> Key:
        """Import a JWK (object or JSON text), public or private.

        :raises InvalidInputError: if the JWK is malformed or its point is not on the curve.
        :raises UnsupportedAlgorithmError: for key types other than EC P-256/secp256k1 and OKP Ed25519,
            or an ``alg`` member that does not fit the curve.
        """
        if isinstance(jwk, str | bytes):
            from vcsdk._json import parse_json_object

            jwk = parse_json_object(jwk, what="JWK", max_bytes=16_384)
        if not isinstance(jwk, Mapping):
            raise InvalidInputError("a JWK must be a JSON object")
        kty, crv = jwk.get("kty"), jwk.get("crv")
        if kty not in ("EC", "OKP") or crv not in _KTY_FOR_CURVE or _KTY_FOR_CURVE[crv] != kty:
            raise UnsupportedAlgorithmError(
                f"JWK kty={kty!r} crv={crv!r} is not supported; use EC P-256, EC secp256k1 or OKP Ed25519"
            )
        alg = jwk.get("alg")
        if alg is not None and alg != ALGORITHM_FOR_CURVE[crv]:
            raise UnsupportedAlgorithmError(f"JWK alg {alg!r} does not fit curve {crv}")
        members = {k: jwk[k] for k in ("kty", "crv", "x", "y", "d") if k in jwk}
        if not all(isinstance(v, str) for v in members.values()):
            raise InvalidInputError("JWK members kty, crv, x, y and d must be strings")
        kid = jwk.get("kid")
        # A public key is a value: the same members import the same key, so the point is decoded
        # and checked on the curve once per process (bounded). Private keys are never kept here.
        cache_key = None if "d" in members else (members["kty"], members["crv"], members.get("x"), members.get("y"))
        op_key = _PUBLIC_KEYS.get(cache_key) if cache_key is not None else None
        if op_key is None:
            try:
                imported = _jwk.JWK(**members)
                op_key = imported.get_op_key("sign" if "d" in members else "verify")
            except Exception as exc:  # jwcrypto raises several unrelated types for a bad point
                raise InvalidInputError("JWK is malformed or its point is not on the curve") from exc
            if cache_key is not None:
                if len(_PUBLIC_KEYS) >= _PUBLIC_KEYS_KEPT:
                    del _PUBLIC_KEYS[next(iter(_PUBLIC_KEYS))]
                _PUBLIC_KEYS[cache_key] = op_key
        return cls(op_key, kid=kid if isinstance(kid, str) else None)

    @classmethod
    def from_pem(cls, pem: bytes, *, password: bytes | None = None) -> Key:
        """Import a PEM private or public key.

        :raises InvalidInputError: if the PEM cannot be read.
        """
        from cryptography.hazmat.primitives import serialization

        try:
            if b"PRIVATE KEY" in pem:
                loaded: Any = serialization.load_pem_private_key(pem, password=password)
            else:
                loaded = serialization.load_pem_public_key(pem)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError("PEM key cannot be read") from exc
        return cls(loaded)

    @classmethod
    def from_secp256k1_bytes(cls, secret: bytes) -> Key:
        """Import a 32-byte secp256k1 private key (an Ethereum account key)."""
        if len(secret) != 32:
            raise InvalidInputError("a secp256k1 private key is 32 bytes")
        try:
            return cls(ec.derive_private_key(int.from_bytes(secret, "big"), ec.SECP256K1()))
        except ValueError as exc:
            raise InvalidInputError("not a valid secp256k1 private key") from exc

    # -- properties ---------------------------------------------------------------------------

    @property
    def is_private(self) -> bool:
        return self._private is not None

    @property
    def alg(self) -> Algorithm:
        """The JWS algorithm this key signs with."""
        return ALGORITHM_FOR_CURVE[self.curve]

    @property
    def kid(self) -> Kid:
        """The key id: the JWK's own ``kid`` if it had one, else the RFC 7638 thumbprint."""
        return Kid(self._kid) if self._kid is not None else self.thumbprint()

    def with_kid(self, kid: str) -> Key:
        """The same key under another ``kid`` (e.g. a DID URL ``did:ethr:…#key-1``)."""
        return Key(self._private if self._private is not None else self._public, kid=kid)

    def public_key(self) -> Key:
        """The public half, keeping ``kid``."""
        return Key(self._public, kid=self._kid)

    @property
    def cryptography_key(self) -> PublicKeyTypes:
        """The public key as a ``cryptography`` object."""
        return self._public

    def thumbprint(self) -> Kid:
        """RFC 7638 JWK thumbprint (SHA-256, base64url)."""
        jwk = self.public_jwk(include_kid=False)
        required = {k: jwk[k] for k in ("crv", "kty", "x", "y") if k in jwk}
        return Kid(b64url_encode(hashlib.sha256(canonical_json(required)).digest()))

    def public_jwk(self, *, include_kid: bool = False) -> dict[str, str]:
        """The public key as a JWK object (``kty``, ``crv``, ``x`` and for EC ``y``)."""
        if self._public_members is None:
            self._public_members = self._make_public_jwk()
        out = dict(self._public_members)
        if include_kid:
            out["kid"] = self.kid
        return out

    def _make_public_jwk(self) -> dict[str, str]:
        if isinstance(self._public, ed25519.Ed25519PublicKey):
            from cryptography.hazmat.primitives import serialization

            raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            out = {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
        else:
            nums = self._public.public_numbers()
            out = {
                "kty": "EC",
                "crv": self.curve,
                "x": b64url_encode(nums.x.to_bytes(32, "big")),
                "y": b64url_encode(nums.y.to_bytes(32, "big")),
            }
        return out

    def private_jwk(self, *, include_kid: bool = False) -> dict[str, str]:
        """The private key as a JWK object. Handle the result as a secret.

        :raises InvalidInputError: if this is a public key.
        """
        if self._private is None:
            raise InvalidInputError("this is a public key; it has no private JWK")
        out = self.public_jwk(include_kid=include_kid)
        if isinstance(self._private, ed25519.Ed25519PrivateKey):
            from cryptography.hazmat.primitives import serialization

            d = self._private.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
        else:
            d = self._private.private_numbers().private_value.to_bytes(32, "big")
        out["d"] = b64url_encode(d)
        return out

    def secp256k1_bytes(self) -> bytes:
        """The 32-byte secp256k1 private scalar, for Ethereum signing.

        :raises InvalidInputError: if this is not a private secp256k1 key.
        """
        if self.curve != "secp256k1" or not isinstance(self._private, ec.EllipticCurvePrivateKey):
            raise InvalidInputError("only a private secp256k1 key has an Ethereum private key")
        return self._private.private_numbers().private_value.to_bytes(32, "big")

    def compressed_public_bytes(self) -> bytes:
        """The SEC1 compressed point (EC) or raw 32 bytes (Ed25519)."""
        from cryptography.hazmat.primitives import serialization

        if isinstance(self._public, ed25519.Ed25519PublicKey):
            return self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return self._public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)

    # -- signatures ---------------------------------------------------------------------------

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with this key's JWS algorithm; returns the raw JWS signature.

        :raises InvalidInputError: if this is a public key.
        """
        if self._private is None:
            raise InvalidInputError("cannot sign with a public key")
        if isinstance(self._private, ed25519.Ed25519PrivateKey):
            return _EDDSA.sign(data, self._private)
        # ES256 and ES256K are both ECDSA with SHA-256; the curve comes from the key itself.
        return _ECDSA_SHA256.sign(data, self._private)

    def verify(self, data: bytes, signature: bytes, *, alg: str, policy: AlgorithmPolicy = DEFAULT_POLICY) -> None:
        """Check a raw JWS signature over ``data``.

        :param alg: the algorithm the token names; it must be allowed by ``policy`` *and* fit this key.
        :raises UnsupportedAlgorithmError: if ``alg`` is not allowed or does not fit the key's curve.
        :raises SignatureInvalidError: if the signature does not verify.
        """
        checked = policy.check(alg)
        if _CURVE_FOR_ALGORITHM[checked] != self.curve:
            raise UnsupportedAlgorithmError(
                f"algorithm {checked} does not fit a {self.curve} key; the token's alg cannot choose the key"
            )
        if isinstance(self._public, ed25519.Ed25519PublicKey):
            ok = _EDDSA.verify(data, self._public, signature)
        else:
            ok = _ECDSA_SHA256.verify(data, self._public, signature)
        if not ok:
            raise SignatureInvalidError("signature does not verify with the expected key")

    def __repr__(self) -> str:
        kind = "private" if self.is_private else "public"
        return f"Key(curve={self.curve!r}, kid={self.kid!r}, {kind})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return False
        return self.public_jwk() == other.public_jwk() and self.is_private == other.is_private

    def __hash__(self) -> int:
        return hash((self.thumbprint(), self.is_private))

