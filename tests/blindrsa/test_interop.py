"""Interop with an independent RFC 9474 implementation, @cloudflare/blindrsa-ts (npm, pinned), both ways.

Their client prepares, blinds and finalizes against our signer; our client does the same against
their signer; each side verifies the other's final signatures. Node runs as a subprocess
(tests/blindrsa/blindrsa_reference.mjs); the test skips only when node or `make setup` is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from vcsdk.blindrsa import (
    VARIANTS,
    BlindRsaVariant,
    blind,
    blind_sign,
    finalize,
    generate_key,
    load_public_key,
    prepare,
    public_key_to_der,
    verify,
)
from vcsdk.errors import SignatureInvalidError

pytestmark = [pytest.mark.interop, pytest.mark.slow]  # a Node process per case

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("blindrsa_reference.mjs")
PACKAGE = ROOT / "tools" / "node_modules" / "@cloudflare" / "blindrsa-ts"
ALL = sorted(VARIANTS.values(), key=lambda v: v.name)


def reference(request: dict[str, Any]) -> dict[str, Any]:
    if shutil.which("node") is None or not PACKAGE.is_dir():
        pytest.skip("node and tools/node_modules (@cloudflare/blindrsa-ts) are needed; run `make setup`")
    proc = subprocess.run(
        ["node", str(SCRIPT)], input=json.dumps(request).encode(), capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    answer: dict[str, Any] = json.loads(proc.stdout)
    assert "error" not in answer, answer["error"]
    return answer


def test_reference_version_is_the_pinned_one() -> None:
    pinned = json.loads((ROOT / "tools" / "package.json").read_text())["dependencies"]["@cloudflare/blindrsa-ts"]
    if not PACKAGE.is_dir():
        pytest.skip("run `make setup`")
    assert json.loads((PACKAGE / "package.json").read_text())["version"] == pinned


@pytest.mark.parametrize("variant", ALL, ids=lambda v: v.name)
def test_their_client_our_signer(variant: BlindRsaVariant) -> None:
    key = generate_key(2048)
    spki = public_key_to_der(key.public_key()).hex()
    msg = b"ballot token serial \x00\xff"
    blinded = reference({"op": "blind", "variant": variant.name, "spki": spki, "msg": msg.hex()})
    input_msg = bytes.fromhex(blinded["input_msg"])
    assert input_msg.endswith(msg) and len(input_msg) == len(msg) + (32 if variant.randomized else 0)
    blind_sig = blind_sign(key, bytes.fromhex(blinded["blinded_msg"]))
    final = reference({"op": "finalize", "variant": variant.name, "spki": spki, "input_msg": blinded["input_msg"],
                       "blind_sig": blind_sig.hex(), "inv": blinded["inv"]})
    verify(key.public_key(), input_msg, bytes.fromhex(final["sig"]), variant=variant)
    # And their verify accepts exactly that, and not another message.
    assert reference({"op": "verify", "variant": variant.name, "spki": spki, "input_msg": blinded["input_msg"],
                      "sig": final["sig"]})["valid"] is True
    assert reference({"op": "verify", "variant": variant.name, "spki": spki, "input_msg": blinded["input_msg"] + "00",
                      "sig": final["sig"]})["valid"] is False


@pytest.mark.parametrize("variant", ALL, ids=lambda v: v.name)
def test_our_client_their_signer(variant: BlindRsaVariant) -> None:
    keys = reference({"op": "keygen", "bits": 2048})
    public = load_public_key(bytes.fromhex(keys["spki"]))
    input_msg = prepare(b"another serial", variant=variant)
    blinded = blind(public, input_msg, variant=variant)
    answer = reference({"op": "blind_sign", "variant": variant.name, "pkcs8": keys["pkcs8"],
                        "blinded_msg": blinded.blinded_msg.hex()})
    sig = finalize(public, input_msg, bytes.fromhex(answer["blind_sig"]), blinded.inv, variant=variant)
    verify(public, input_msg, sig, variant=variant)
    assert reference({"op": "verify", "variant": variant.name, "spki": keys["spki"], "input_msg": input_msg.hex(),
                      "sig": sig.hex()})["valid"] is True
    with pytest.raises(SignatureInvalidError):
        verify(public, input_msg + b"!", sig, variant=variant)


def test_their_private_key_signs_what_ours_would() -> None:
    """Same key on both sides: the two BlindSign implementations give the same bytes (RSA is deterministic)."""
    keys = reference({"op": "keygen", "bits": 2048})
    ours = serialization.load_der_private_key(bytes.fromhex(keys["pkcs8"]), password=None)
    variant = VARIANTS["RSABSSA-SHA384-PSS-Randomized"]
    public = load_public_key(bytes.fromhex(keys["spki"]))
    blinded = blind(public, prepare(b"m", variant=variant), variant=variant)
    theirs = reference({"op": "blind_sign", "variant": variant.name, "pkcs8": keys["pkcs8"],
                        "blinded_msg": blinded.blinded_msg.hex()})["blind_sig"]
    assert blind_sign(ours, blinded.blinded_msg).hex() == theirs  # type: ignore[arg-type]
