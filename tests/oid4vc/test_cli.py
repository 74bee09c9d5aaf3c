"""``vcsdk oid4vc``: DCQL validation, offer and request links, QR codes; errors as JSON on stderr."""

from __future__ import annotations

import json

from vcsdk._cli import main

from .conftest import VCT

QUERY = {
    "credentials": [
        {
            "id": "r",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [VCT]},
            "claims": [{"path": ["age_equal_or_over", "18"]}],
        }
    ]
}


def test_dcql_ok_and_error(tmp_path, capsys):
    good = tmp_path / "q.json"
    good.write_text(json.dumps(QUERY))
    assert main(["oid4vc", "dcql", str(good)]) == 0
    assert json.loads(capsys.readouterr().out) == QUERY
    bad = tmp_path / "bad.json"
    bad.write_text('{"credentials": []}')
    assert main(["oid4vc", "dcql", str(bad)]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "invalid_request"


def test_offer_and_request_link(capsys):
    assert (
        main(["oid4vc", "offer", "openid-credential-offer://?credential_offer_uri=https%3A%2F%2Fc.example%2Fo%2F1"])
        == 0
    )
    assert json.loads(capsys.readouterr().out) == {"credential_offer_uri": "https://c.example/o/1"}
    link = "openid4vp://?client_id=decentralized_identifier%3Adid%3Aethr%3A0x1&request_uri=https%3A%2F%2Fs.example%2Fq"
    assert main(["oid4vc", "request-link", link]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["client_id"] == "decentralized_identifier:did:ethr:0x1" and out["request_uri"] == "https://s.example/q"


def test_qr(tmp_path):
    out = tmp_path / "qr.png"
    assert main(["oid4vc", "qr", "openid4vp://?client_id=x", "--png", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")
