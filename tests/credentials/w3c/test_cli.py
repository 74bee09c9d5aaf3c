"""``vcsdk vc issue|present|verify|decode`` in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vcsdk._cli import main
from vcsdk.keys import Key

NOW = 1775044800  # 2026-04-01T12:00:00Z


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    issuer = Key.generate("P-256")
    holder = Key.generate("P-256")
    paths = {
        "issuer": tmp_path / "issuer.jwk",
        "issuer_pub": tmp_path / "issuer.pub.jwk",
        "holder_pub": tmp_path / "holder.pub.jwk",
        "other_pub": tmp_path / "other.pub.jwk",
        "claims": tmp_path / "claims.json",
        "vc": tmp_path / "vc.jwt",
    }
    paths["issuer"].write_text(json.dumps(issuer.private_jwk()))
    paths["issuer_pub"].write_text(json.dumps(issuer.public_jwk()))
    paths["holder_pub"].write_text(json.dumps(holder.public_jwk()))
    paths["other_pub"].write_text(json.dumps(Key.generate("P-256").public_jwk()))
    paths["claims"].write_text(json.dumps({"locality": "Kaga", "age_over_18": True}))
    return paths


def _issue(files: dict[str, Path], capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    code = main(["vc", "issue", "--issuer-key", str(files["issuer"]), "--claims", str(files["claims"]),
                 "--holder-key", str(files["holder_pub"]), "--vct", "ResidentIdentityCredential",
                 "--now", str(NOW), "--valid-days", "30", *extra])
    out = capsys.readouterr().out.strip()
    assert code == 0
    files["vc"].write_text(out)
    return out


def test_issue_verify_decode(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _issue(files, capsys)
    assert main(["vc", "verify", str(files["vc"]), "--issuer-key", str(files["issuer_pub"]),
                 "--now", str(NOW + 60)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["verified"] is True and result["type"] == ["VerifiableCredential", "ResidentIdentityCredential"]
    assert result["credential"]["credentialSubject"]["locality"] == "Kaga"
    assert result["credential"]["credentialSubject"]["id"].startswith("did:jwk:")
    assert result["status"] == "none"
    assert main(["vc", "decode", str(files["vc"])]) == 0
    assert json.loads(capsys.readouterr().out)["verified"] is False


def test_verify_with_resolve_did_jwk(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _issue(files, capsys)
    assert main(["vc", "verify", str(files["vc"]), "--resolve", "--now", str(NOW + 60)]) == 0
    assert json.loads(capsys.readouterr().out)["issuer"].startswith("did:jwk:")


@pytest.mark.parametrize(
    ("argv", "code"),
    [
        (["--issuer-key", "{other_pub}"], "signature_invalid"),
        (["--issuer-key", "{issuer_pub}", "--now", str(NOW + 31 * 86400)], "token_expired"),
        (["--issuer-key", "{issuer_pub}", "--now", str(NOW - 86400)], "token_not_yet_valid"),
        (["--issuer-key", "{issuer_pub}", "--aud", "x"], "invalid_input"),
    ],
)
def test_verify_failures_are_json_errors(files: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                         argv: list[str], code: str) -> None:
    _issue(files, capsys)
    args = [a.format(**{k: str(v) for k, v in files.items()}) for a in argv]
    if "--now" not in args:
        args += ["--now", str(NOW + 60)]
    assert main(["vc", "verify", str(files["vc"]), *args]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert json.loads(captured.err)["error"]["code"] == code


def test_garbage_token_and_missing_file(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    files["vc"].write_text("not a token")
    assert main(["vc", "verify", str(files["vc"]), "--issuer-key", str(files["issuer_pub"])]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "malformed_token"
    assert main(["vc", "decode", str(files["vc"]) + ".missing"]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "io_error"


def test_non_text_token_and_status_files_are_json_errors(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Bytes that are not ASCII text, as the token or as a status list file: a JSON error, never a traceback."""
    _issue(files, capsys)
    binary = files["vc"].with_name("binary.bin")
    binary.write_bytes(b"\xff\xfe\x00 not text")
    for argv in (
        ["vc", "verify", str(binary), "--issuer-key", str(files["issuer_pub"])],
        ["vc", "decode", str(binary)],
        ["vc", "verify", str(files["vc"]), "--issuer-key", str(files["issuer_pub"]),
         "--status-list", f"https://status.example/lists?id=1={binary}"],
    ):  # fmt: skip
        assert main(argv) == 1, argv
        assert json.loads(capsys.readouterr().err)["error"]["code"] == "malformed_token", argv


def test_vc_sd_jwt_issue_present_verify(files: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    holder = Key.generate("P-256")
    (tmp_path / "holder.jwk").write_text(json.dumps(holder.private_jwk()))
    (tmp_path / "holder.pub.jwk").write_text(json.dumps(holder.public_jwk()))
    files["holder_pub"] = tmp_path / "holder.pub.jwk"
    _issue(files, capsys, "--sd", "locality", "--sd", "age_over_18")
    assert main(["vc", "decode", str(files["vc"])]) == 0
    decoded = json.loads(capsys.readouterr().out)
    assert decoded["header"]["typ"] == "vc+sd-jwt" and decoded["verified"] is False
    assert sorted(d["name"] for d in decoded["disclosures"]) == ["age_over_18", "locality"]

    vp = tmp_path / "vp.txt"
    assert main(["vc", "present", str(files["vc"]), "--holder-key", str(tmp_path / "holder.jwk"),
                 "--disclose", "age_over_18", "--aud", "https://shop.example", "--nonce", "n1",
                 "--now", str(NOW + 60)]) == 0
    vp.write_text(capsys.readouterr().out.strip())
    base = ["vc", "verify", str(vp), "--issuer-key", str(files["issuer_pub"]), "--now", str(NOW + 60)]
    assert main([*base, "--aud", "https://shop.example", "--nonce", "n1"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["key_bound"] is True
    assert result["credential"]["credentialSubject"] == {"id": result["credential"]["credentialSubject"]["id"],
                                                         "age_over_18": True}
    for extra, code in ((["--aud", "https://shop.example", "--nonce", "n2"], "nonce_mismatch"),
                        (["--aud", "https://other.example", "--nonce", "n1"], "audience_mismatch"),
                        ([], "key_binding_unchecked")):
        assert main([*base, *extra]) == 1
        assert json.loads(capsys.readouterr().err)["error"]["code"] == code


def test_aud_and_nonce_on_a_vc_jwt_want_key_binding(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _issue(files, capsys)
    assert main(["vc", "verify", str(files["vc"]), "--issuer-key", str(files["issuer_pub"]), "--now", str(NOW + 60),
                 "--aud", "a", "--nonce", "n"]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "key_binding_missing"


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["vc", "verify", "x"])
    assert info.value.code == 2


def test_status_messages_name_the_flags(files: dict[str, Path], capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    """``vcsdk vc verify`` of a credential with a credentialStatus: the message names the CLI's flags."""
    uri = "https://city.example/status/7"
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                                  "statusListIndex": "3", "statusListCredential": uri}))
    _issue(files, capsys, "--status", str(status))
    assert main(["vc", "verify", str(files["vc"]), "--issuer-key", str(files["issuer_pub"]),
                 "--now", str(NOW + 60)]) == 1
    error = json.loads(capsys.readouterr().err)["error"]
    assert error["code"] == "status_not_checked" and uri in error["message"]
    assert "--status-list URI=FILE" in error["message"] and "--skip-status" in error["message"]
    assert "check_status" not in error["message"]
