"""``vcsdk sd-jwt issue|present|verify|decode`` run in-process: exit codes and JSON output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.credentials.sd_jwt.conftest import CLAIMS, NOW, VCT
from vcsdk._cli import main
from vcsdk._cli.sd_jwt_cmd import parse_path
from vcsdk.credentials import TokenStatusList, issue_status_list_token
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key

T = str(int(NOW.timestamp()))
AUD, NONCE = "https://shop.example", "cli-nonce-1"
STATUS_URI = "https://city.example/status/1"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    issuer, holder = Key.generate("P-256"), Key.generate("P-256")
    out = {
        "issuer": tmp_path / "issuer.jwk",
        "issuer_pub": tmp_path / "issuer.pub.jwk",
        "holder": tmp_path / "holder.jwk",
        "holder_pub": tmp_path / "holder.pub.jwk",
        "claims": tmp_path / "claims.json",
        "status": tmp_path / "status.json",
        "list": tmp_path / "list.jwt",
    }
    out["issuer"].write_text(json.dumps(issuer.private_jwk()))
    out["issuer_pub"].write_text(json.dumps(issuer.public_jwk()))
    out["holder"].write_text(json.dumps(holder.private_jwk()))
    out["holder_pub"].write_text(json.dumps(holder.public_jwk()))
    out["claims"].write_text(json.dumps({"vct": VCT, **CLAIMS}))
    out["status"].write_text(json.dumps({"status_list": {"idx": 3, "uri": STATUS_URI}}))
    statuses = TokenStatusList(16)
    statuses.set(3, 1)  # INVALID: revoked
    out["list"].write_text(issue_status_list_token(statuses, issuer, uri=STATUS_URI, now=NOW))
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def error_code(err: str) -> str:
    body: dict[str, Any] = json.loads(err)
    return str(body["error"]["code"])


def issue(capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path, *extra: str | Path) -> Path:
    code, out, _ = run(
        capsys, "sd-jwt", "issue", "--issuer-key", files["issuer"], "--claims", files["claims"],
        "--holder-key", files["holder_pub"], "--now", T, *extra,
    )  # fmt: skip
    assert code == 0
    path = tmp_path / "credential.sd-jwt"
    path.write_text(out)
    return path


def present(capsys: pytest.CaptureFixture[str], files: dict[str, Path], credential: Path, *paths: str) -> Path:
    code, out, _ = run(
        capsys, "sd-jwt", "present", credential, "--holder-key", files["holder"], "--disclose", *paths,
        "--aud", AUD, "--nonce", NONCE, "--now", T,
    )  # fmt: skip
    assert code == 0
    path = credential.with_suffix(".presentation")
    path.write_text(out)
    return path


def test_issue_present_verify(capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path) -> None:
    credential = issue(capsys, files, tmp_path, "--sd", "given_name", "address", "address.locality",
                       '["nationalities", null]')  # fmt: skip
    presentation = present(capsys, files, credential, "address.locality", "nationalities.1")
    code, out, _ = run(
        capsys, "sd-jwt", "verify", presentation, "--issuer-key", files["issuer_pub"],
        "--aud", AUD, "--nonce", NONCE, "--now", T,
    )  # fmt: skip
    assert code == 0
    result = json.loads(out)
    assert result["verified"] is True and result["key_bound"] is True and result["vct"] == VCT
    assert result["issuer"].startswith("did:jwk:")
    assert result["claims"]["address"] == CLAIMS["address"]  # only locality was disclosable
    assert result["claims"]["nationalities"] == ["FR"]
    assert "given_name" not in result["claims"]
    assert result["claims"]["family_name"] == "Kaga"  # not made disclosable: always visible


def test_verify_failures_are_json_errors(capsys: pytest.CaptureFixture[str], files: dict[str, Path],
                                         tmp_path: Path) -> None:  # fmt: skip
    presentation = present(capsys, files, issue(capsys, files, tmp_path), "given_name")
    base = ["sd-jwt", "verify", presentation, "--issuer-key", files["issuer_pub"], "--now", T]
    code, out, err = run(capsys, *base, "--aud", AUD, "--nonce", "other")
    assert (code, out, error_code(err)) == (1, "", "nonce_mismatch")
    code, _, err = run(capsys, *base, "--aud", "https://other.example", "--nonce", NONCE)
    assert (code, error_code(err)) == (1, "audience_mismatch")
    code, _, err = run(capsys, "sd-jwt", "verify", presentation, "--issuer-key", files["holder_pub"], "--now", T,
                       "--aud", AUD, "--nonce", NONCE)  # fmt: skip
    assert (code, error_code(err)) == (1, "signature_invalid")
    code, _, err = run(capsys, *base, "--aud", AUD, "--nonce", NONCE, "--now", str(int(T) + 3600))
    assert (code, error_code(err)) == (1, "key_binding_stale")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\xff\xfe not a token")
    code, _, err = run(capsys, "sd-jwt", "verify", garbage, "--issuer-key", files["issuer_pub"], "--no-kb")
    assert (code, error_code(err)) == (1, "malformed_token")
    code, _, err = run(capsys, "sd-jwt", "verify", tmp_path / "missing", "--issuer-key", files["issuer_pub"], "--no-kb")
    assert code == 1 and error_code(err) == "io_error"
    code, _, err = run(capsys, *base)  # neither --aud/--nonce nor --no-kb
    assert (code, error_code(err)) == (1, "invalid_input")


def test_verify_credential_alone_and_resolve(capsys: pytest.CaptureFixture[str], files: dict[str, Path],
                                             tmp_path: Path) -> None:  # fmt: skip
    credential = issue(capsys, files, tmp_path, "--expires-in", "3600")
    code, out, _ = run(capsys, "sd-jwt", "verify", credential, "--resolve", "--no-kb", "--now", T)
    assert code == 0
    result = json.loads(out)
    assert result["key_bound"] is False and result["claims"]["given_name"] == "Hanako"
    assert result["kid"] == f"{result['issuer']}#0"
    code, _, err = run(capsys, "sd-jwt", "verify", credential, "--resolve", "--no-kb", "--now", str(int(T) + 7200))
    assert (code, error_code(err)) == (1, "token_expired")


def test_status_lists(capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path) -> None:
    credential = issue(capsys, files, tmp_path, "--status", files["status"])
    base = ["sd-jwt", "verify", credential, "--issuer-key", files["issuer_pub"], "--no-kb", "--now", T]
    code, _, err = run(capsys, *base, "--status-list", f"{STATUS_URI}={files['list']}")
    assert (code, error_code(err)) == (1, "credential_revoked")
    code, _, err = run(capsys, *base)
    assert (code, error_code(err)) == (1, "status_not_checked")
    code, out, _ = run(capsys, *base, "--skip-status")
    assert code == 0 and json.loads(out)["status"]["status_list"]["idx"] == 3


def test_status_messages_name_the_flags(capsys: pytest.CaptureFixture[str], files: dict[str, Path],
                                       tmp_path: Path) -> None:  # fmt: skip
    """The CLI user hears --status-list / --skip-status, not the SDK's "pass a status checker"."""
    credential = issue(capsys, files, tmp_path, "--status", files["status"])
    base = ["sd-jwt", "verify", credential, "--issuer-key", files["issuer_pub"], "--no-kb", "--now", T]
    code, _, err = run(capsys, *base)
    message = json.loads(err)["error"]["message"]
    assert code == 1 and "--status-list URI=FILE" in message and "--skip-status" in message
    assert STATUS_URI in message and "check_status" not in message and "status checker" not in message
    code, _, err = run(capsys, *base, "--status-list", f"https://other.example/list={files['list']}")
    message = json.loads(err)["error"]["message"]
    assert code == 1 and "no --status-list was given" in message and STATUS_URI in message


def test_a_truncated_token_is_named_truncated(capsys: pytest.CaptureFixture[str], files: dict[str, Path],
                                              tmp_path: Path) -> None:  # fmt: skip
    presentation = present(capsys, files, issue(capsys, files, tmp_path), "given_name", "address")
    text = presentation.read_text().strip()
    cut = tmp_path / "cut.sd-jwt"
    for length in (len(text) // 3, text.index("~") + 20, len(text) - 30):
        cut.write_text(text[:length])
        code, _, err = run(capsys, "sd-jwt", "verify", cut, "--issuer-key", files["issuer_pub"], "--aud", AUD,
                           "--nonce", NONCE, "--now", T)
        error = json.loads(err)["error"]
        assert code == 1 and error["code"] == "truncated_token" and "truncated" in error["message"], length


def test_resolve_takes_the_chain_id_from_the_issuer_did(capsys: pytest.CaptureFixture[str]) -> None:
    from vcsdk._cli._common import ethr_chain_id_of
    from vcsdk.credentials import issue_sd_jwt_vc

    key = Key.generate("P-256").with_kid("did:ethr:0x7a69:0x" + "11" * 20 + "#k")
    token = issue_sd_jwt_vc({"given_name": "A"}, issuer="did:ethr:0x7a69:0x" + "11" * 20, signer=key, vct=VCT,
                            disclosable=[("given_name",)], now=NOW)
    assert ethr_chain_id_of(token) == 31337
    named = issue_sd_jwt_vc({"given_name": "A"}, issuer="did:ethr:sepolia:0x" + "11" * 20, signer=key, vct=VCT,
                            disclosable=[("given_name",)], now=NOW)
    with pytest.raises(InvalidInputError, match="pass --chain-id"):
        ethr_chain_id_of(named)


def test_decode_marks_everything_unverified(capsys: pytest.CaptureFixture[str], files: dict[str, Path],
                                            tmp_path: Path) -> None:  # fmt: skip
    presentation = present(capsys, files, issue(capsys, files, tmp_path), "given_name", "address")
    code, out, _ = run(capsys, "sd-jwt", "decode", presentation)
    assert code == 0
    decoded = json.loads(out)
    assert decoded["verified"] is False and "warning" in decoded
    assert decoded["header"]["typ"] == "dc+sd-jwt"
    assert {d["name"] for d in decoded["disclosures"]} == {"given_name", "address"}
    assert decoded["key_binding_jwt"]["payload"]["nonce"] == NONCE


def test_issue_needs_a_vct(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    files["claims"].write_text(json.dumps(CLAIMS))
    code, _, err = run(capsys, "sd-jwt", "issue", "--issuer-key", files["issuer"], "--claims", files["claims"])
    assert (code, error_code(err)) == (1, "invalid_input")


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("address.locality", ["address", "locality"]),
        ("nationalities.*", ["nationalities", None]),
        ("nationalities.0", ["nationalities", 0]),
        ('["age_equal_or_over", "18"]', ["age_equal_or_over", "18"]),
    ],
)
def test_parse_path(text: str, path: list[Any]) -> None:
    assert parse_path(text) == path


@pytest.mark.parametrize("text", ["a..b", "[1", "[]", '["a", true]', '{"a": 1}'])
def test_parse_path_errors(text: str) -> None:
    with pytest.raises(InvalidInputError):
        parse_path(text)
