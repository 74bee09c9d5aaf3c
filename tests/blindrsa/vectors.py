"""Read tests/vectors/rfc9474/appendix-a.txt (RFC 9474 Appendix A, copied value for value)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa

from vcsdk.blindrsa import VARIANTS, BlindRsaVariant

FILE = Path(__file__).resolve().parents[1] / "vectors" / "rfc9474" / "appendix-a.txt"


@dataclass(frozen=True)
class Vector:
    section: str
    variant: BlindRsaVariant
    values: dict[str, bytes]


def _parse() -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    name = ""
    for line in FILE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        header = re.fullmatch(r"\[(.+)\]", line)
        if header:
            current = sections.setdefault(header.group(1), {})
            continue
        field = re.fullmatch(r"([a-z_]+) =\s*([0-9a-f]*)", line)
        if field:
            name = field.group(1)
            current[name] = field.group(2)
        else:
            assert re.fullmatch(r"[0-9a-f]+", line), line
            current[name] += line
    return sections


def load() -> tuple[rsa.RSAPrivateKey, list[Vector]]:
    """The key the four vectors share and the vectors, in the RFC's order."""
    sections = _parse()
    key = {k: int(v, 16) for k, v in sections.pop("key").items()}
    p, q, d, e, n = key["p"], key["q"], key["d"], key["e"], key["n"]
    assert p * q == n
    private = rsa.RSAPrivateNumbers(
        p=p, q=q, d=d, dmp1=rsa.rsa_crt_dmp1(d, p), dmq1=rsa.rsa_crt_dmq1(d, q), iqmp=rsa.rsa_crt_iqmp(p, q),
        public_numbers=rsa.RSAPublicNumbers(e=e, n=n),
    ).private_key()
    vectors = []
    for header, fields in sections.items():
        section, name = header.split(" ", 1)
        vectors.append(Vector(section, VARIANTS[name], {k: bytes.fromhex(v) for k, v in fields.items()}))
    return private, vectors
