"""Every example in examples/ runs as a user would run it, and says what it was meant to show."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TIMEOUT_S = 120

#: Lines (substrings) each example must print; a missing one means a step did not happen.
EXPECTED: dict[str, list[str]] = {
    "third_party_service.py": [
        "service DID: did:ethr:",
        "wallet shows: Kaga Onsen Shop asks for [['age_equal_or_over', '20'], ['address', 'locality']]",
        "the service learned {'address': {'locality': 'Kaga'}, 'age_equal_or_over': {'20': True}}",
        "claims ['age_equal_or_over.20', 'address.locality']",
        "after revocation the service answers: credential_revoked",
    ],
    "city_issuer.py": [
        "contracts: DID registry 0x",
        "(Multikey)",
        "accredited for https://credentials.kaga.example/ResidentIdentityCredential: True",
        "KYC with a wrong birth date: partial_match",
        "KYC with the right birth date: verified",
        "PIN of 6 digits sent separately",
        "issued https://credentials.kaga.example/ResidentIdentityCredential bound to the device key",
        "status list published (version 1), digest anchored on chain",
        "a verifier accepts the credential",
        "after revocation the verifier refuses it: credential_revoked",
    ],
    "sso_rp.py": [
        "(pairwise subjects, ['S256'])",
        "login page shows a QR code: True",
        "the wallet shared ['given_name', 'age_equal_or_over.20', 'verification.level'] with Kaga Onsen Shop",
        "given_name=太郎, age 20+=True",
    ],
    "verify_offline.py": [
        "pinned JWK: verified offline, disclosed {'address': {'locality': 'Kaga'}, 'age_equal_or_over': {'20': True}}",
        "replay with another nonce refused: nonce_mismatch",
        "after the new status list file: credential_revoked",
        "did:jwk issuer: verified offline, age over 20 = True",
    ],
}


def test_every_example_is_tested() -> None:
    shipped = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    # voting_service.py has its own test next to the voting package; the quickstart_*.py files run
    # against `vcsdk dev up` in tests/test_dev_city.py.
    assert set(EXPECTED) <= shipped
    assert shipped - set(EXPECTED) <= {"voting_service.py", "quickstart_service.py", "quickstart_wallet.py"}


def _imported_modules(path: Path) -> set[str]:
    """The non-standard-library modules a file imports from."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
    return {m for m in names if m.split(".")[0] not in sys.stdlib_module_names and m != "__future__"}


@pytest.mark.parametrize("name", ["third_party_service.py", "quickstart_service.py"])
def test_service_examples_are_short_and_use_the_front_door(name: str) -> None:
    # A service is written against vcsdk.City and vcsdk.Service: under 60 lines, at most two modules.
    path = EXAMPLES / name
    assert len(path.read_text(encoding="utf-8").splitlines()) < 60
    modules = _imported_modules(path)
    assert "vcsdk" in modules and len(modules) <= 2, modules


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name: str, tmp_path: Path) -> None:
    # Run from an unrelated directory, as `python examples/X.py` from anywhere would.
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    for line in EXPECTED[name]:
        assert line in proc.stdout, f"{name} did not print {line!r}:\n{proc.stdout}"
    assert "Traceback" not in proc.stderr
