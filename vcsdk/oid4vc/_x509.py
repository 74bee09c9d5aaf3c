"""X.509 certificate chains in a JOSE ``x5c`` header, checked against the caller's trust anchors.

HAIP 1.0 identifies verifiers (``x509_hash``, ``x509_san_dns``) and wallet providers by
certificate chains in ``x5c``: the leaf signs, the chain must lead to an anchor the relying party
configured (never one the token brings: an anchor inside ``x5c`` is refused, as is a self-signed
leaf), and the chain is validated by ``cryptography``'s path builder at the given time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import ExtensionPolicy, PolicyBuilder, Store, VerificationError

from vcsdk._b64 import b64url_encode
from vcsdk.errors import UntrustedKeyError, VcsdkError
from vcsdk.keys import Key

__all__ = [
    "MAX_CHAIN",
    "authority_key_ids",
    "certificate_hash",
    "dns_names",
    "leaf_key",
    "parse_x5c",
    "verify_x5c",
]

MAX_CHAIN = 5
MAX_CERT_BYTES = 16 * 1024


def parse_x5c(value: object) -> list[x509.Certificate]:
    """The certificates of an ``x5c`` header: base64 (not base64url) DER, leaf first (RFC 7515 §4.1.6).

    :raises UntrustedKeyError: if it is not a non-empty array of at most five DER certificates.
    """
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_CHAIN:
        raise UntrustedKeyError(f"x5c must be an array of 1 to {MAX_CHAIN} certificates")
    out = []
    for item in value:
        if not isinstance(item, str) or len(item) > MAX_CERT_BYTES * 2:
            raise UntrustedKeyError("each x5c entry is a base64 DER certificate")
        try:
            out.append(x509.load_der_x509_certificate(base64.b64decode(item, validate=True)))
        except (ValueError, binascii.Error):
            raise UntrustedKeyError("an x5c entry is not a DER certificate") from None
    return out


def certificate_hash(cert: x509.Certificate) -> str:
    """base64url SHA-256 of the DER certificate (the ``x509_hash`` Client Identifier, OpenID4VP §5.9.3)."""
    return b64url_encode(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())


def dns_names(cert: x509.Certificate) -> list[str]:
    """The certificate's ``dNSName`` Subject Alternative Names."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    return [n.lower() for n in ext.value.get_values_for_type(x509.DNSName)]


def authority_key_ids(chain: Sequence[x509.Certificate]) -> set[str]:
    """The base64url Authority Key Identifiers in a chain (the DCQL ``aki`` trusted authority, §6.1.1.1)."""
    out = set()
    for cert in chain:
        try:
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        except x509.ExtensionNotFound:
            continue
        if aki.key_identifier:
            out.add(b64url_encode(aki.key_identifier))
    return out


def leaf_key(cert: x509.Certificate) -> Key:
    """The leaf's public key as a :class:`~vcsdk.keys.Key`.

    :raises UntrustedKeyError: for a key type vcsdk does not support.
    """
    try:
        return Key(cert.public_key())  # type: ignore[arg-type]
    except VcsdkError:
        raise UntrustedKeyError("the certificate's key type is not supported") from None


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # whatever the reason, it is not self-signed
        return False
    return True


def verify_x5c(
    value: object, *, trust_anchors: Sequence[x509.Certificate], now: datetime
) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """Validate an ``x5c`` chain up to one of ``trust_anchors`` at ``now``.

    HAIP 1.0: the trust anchor is not in ``x5c`` and the signing certificate is not self-signed.

    :raises UntrustedKeyError: a malformed chain, a self-signed leaf, an anchor inside ``x5c``, no
        configured anchor, or a chain that does not validate (signature, validity, CA constraints).
    :return: the leaf and the whole chain as sent.
    """
    chain = parse_x5c(value)
    if not trust_anchors:
        raise UntrustedKeyError("no trust anchors are configured for certificate chains")
    leaf, intermediates = chain[0], chain[1:]
    if _self_signed(leaf):
        raise UntrustedKeyError("the signing certificate is self-signed")
    anchors = {a.public_bytes(serialization.Encoding.DER) for a in trust_anchors}
    if any(c.public_bytes(serialization.Encoding.DER) in anchors for c in chain):
        raise UntrustedKeyError("x5c must not include the trust anchor")
    verifier = (
        PolicyBuilder()
        .store(Store(list(trust_anchors)))
        .time(now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now)
        .max_chain_depth(MAX_CHAIN)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except VerificationError as exc:
        raise UntrustedKeyError(f"the certificate chain does not lead to a trusted anchor ({exc})"[:300]) from None
    return leaf, chain
