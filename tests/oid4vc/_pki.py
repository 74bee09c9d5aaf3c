"""A throwaway X.509 hierarchy for the x5c tests: root CA → intermediate CA → P-256 leaf.

Made with ``cryptography`` for each test run (valid around the tests' fixed clock); the leaf may
carry DNS Subject Alternative Names (``x509_san_dns``). ``x5c`` lists the leaf and intermediate in
the JOSE header's form (standard base64 DER), without the root, as HAIP 1.0 asks.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from vcsdk.keys import Key


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: str,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    not_before: dt.datetime,
    days: int,
    dns: tuple[str, ...] = (),
    path_length: int | None = None,
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
        )
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def x5c_of(*certs: x509.Certificate) -> list[str]:
    return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in certs]


@dataclass(frozen=True)
class Hierarchy:
    root: x509.Certificate
    intermediate: x509.Certificate
    leaf: x509.Certificate
    leaf_key: Key
    intermediate_key: ec.EllipticCurvePrivateKey

    @property
    def x5c(self) -> list[str]:
        """Leaf and intermediate, no root (HAIP 1.0)."""
        return x5c_of(self.leaf, self.intermediate)

    def other_leaf(self, *, dns: tuple[str, ...] = (), not_before: dt.datetime | None = None,
                   days: int = 365) -> tuple[x509.Certificate, Key]:
        """Another leaf under the same intermediate."""
        key = ec.generate_private_key(ec.SECP256R1())
        start = not_before or self.leaf.not_valid_before_utc
        cert = _cert("other leaf", key, "test intermediate", self.intermediate_key, ca=False,
                     not_before=start, days=days, dns=dns)
        return cert, Key(key)


def make_hierarchy(*, dns: tuple[str, ...] = (), now: dt.datetime, name: str = "test") -> Hierarchy:
    """Root, intermediate and leaf valid from a day before ``now`` for a year."""
    start = now - dt.timedelta(days=1)
    root_key = ec.generate_private_key(ec.SECP256R1())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    root = _cert(f"{name} root", root_key, f"{name} root", root_key, ca=True, not_before=start, days=3650)
    inter = _cert("test intermediate", inter_key, f"{name} root", root_key, ca=True, not_before=start, days=1825,
                  path_length=0)
    leaf = _cert(f"{name} leaf", leaf_key, "test intermediate", inter_key, ca=False, not_before=start, days=365,
                 dns=dns)
    return Hierarchy(root, inter, leaf, Key(leaf_key), inter_key)


def self_signed(*, now: dt.datetime, dns: tuple[str, ...] = ()) -> tuple[x509.Certificate, Key]:
    """A self-signed leaf (HAIP 1.0 forbids signing with one)."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("self", key, "self", key, ca=False, not_before=now - dt.timedelta(days=1), days=30, dns=dns)
    return cert, Key(key)
