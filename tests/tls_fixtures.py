"""A throwaway certificate authority for TLS tests on loopback.

``make_ca(folder)`` writes a CA certificate and issues a server certificate for ``127.0.0.1`` and a
client certificate, all with ``cryptography``, valid for one day. ``server_context`` and
``client_context`` build the matching ``ssl.SSLContext`` objects; ``require_client_cert=True`` makes
the server demand a client certificate signed by the same CA (mutual TLS).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True, slots=True)
class ThrowawayCa:
    """PEM files of a throwaway CA and the two leaf certificates it issued."""

    ca_file: Path
    server_cert_file: Path
    server_key_file: Path
    client_cert_file: Path
    client_key_file: Path

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        """A server-side context with the server certificate (and, if asked, mutual TLS)."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.server_cert_file, self.server_key_file)
        if require_client_cert:
            ctx.load_verify_locations(self.ca_file)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def client_context(self, *, with_client_cert: bool = False) -> ssl.SSLContext:
        """A client-side context that trusts only this CA."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        if with_client_cert:
            ctx.load_cert_chain(self.client_cert_file, self.client_key_file)
        return ctx


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def make_ca(folder: Path, *, common_name: str = "city test CA", server_names: tuple[str, ...] = ()) -> ThrowawayCa:
    """Create a CA in ``folder`` and issue a ``127.0.0.1`` server certificate and a client certificate.

    :param server_names: DNS names the server certificate also carries (served on loopback in tests).
    """
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def issue(
        common_name: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName]
    ) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), key

    folder.mkdir(parents=True, exist_ok=True)
    ca = ThrowawayCa(
        folder / "city-ca.pem",
        folder / "server.pem",
        folder / "server.key",
        folder / "client.pem",
        folder / "client.key",
    )
    ca.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    server_san: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    server_san += [x509.DNSName(name) for name in server_names]
    server_pem, server_key = issue("127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, server_san)
    ca.server_cert_file.write_bytes(server_pem)
    _write_key(server_key, ca.server_key_file)
    client_pem, client_key = issue("city issuer", ExtendedKeyUsageOID.CLIENT_AUTH, [])
    ca.client_cert_file.write_bytes(client_pem)
    _write_key(client_key, ca.client_key_file)
    return ca
