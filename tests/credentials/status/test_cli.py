"""``vcsdk status`` and ``vcsdk vc verify --status-list`` in process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vcsdk._cli import main
from vcsdk.keys import Key

NOW = 1775044800


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return json.loads(captured.out)


def test_token_list_lifecycle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lst = tmp_path / "list.json"
    created = _run(capsys, "status", "create", str(lst), "--uri", "https://city.example/status/1", "--size", "4096")
    assert created["bits"] == 2 and created["allocated"] == 0
    status = _run(capsys, "status", "allocate", str(lst))
    idx = status["status_list"]["idx"]
    assert _run(capsys, "status", "suspend", str(lst), str(idx))["status"] == "suspended"
    assert _run(capsys, "status", "reinstate", str(lst), str(idx))["status"] == "valid"
    assert _run(capsys, "status", "revoke", str(lst), str(idx))["status"] == "revoked"
    shown = _run(capsys, "status", "show", str(lst), "--index", str(idx))
    assert shown["revoked"] == 1 and shown["allocated"] == 1 and shown["statuses"] == {str(idx): "revoked"}
    # Reinstating a revoked credential is refused with a JSON error.
    assert main(["status", "reinstate", str(lst), str(idx)]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "invalid_input"
    # Creating over an existing file needs --force.
    assert main(["status", "create", str(lst), "--uri", "https://city.example/status/1"]) == 1
    capsys.readouterr()

    key = tmp_path / "k.jwk"
    key.write_text(json.dumps(Key.generate("P-256").private_jwk()))
    token = tmp_path / "list.jwt"
    _run(capsys, "status", "publish", str(lst), "--issuer-key", str(key), "--now", str(NOW), "--out", str(token))
    shown = _run(capsys, "status", "show", str(token), "--index", str(idx))
    assert shown["verified"] is False and shown["sub"] == "https://city.example/status/1"
    assert shown["statuses"] == {str(idx): 1} and shown["ttl"] == 300


def test_vc_verify_with_a_bitstring_status_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = Key.generate("P-256")
    (tmp_path / "k.jwk").write_text(json.dumps(key.private_jwk()))
    (tmp_path / "k.pub.jwk").write_text(json.dumps(key.public_jwk()))
    from vcsdk.did import did_jwk_for

    issuer = did_jwk_for(key)
    lst = tmp_path / "w3c.json"
    _run(capsys, "status", "create", str(lst), "--format", "bitstring", "--uri", "https://city.example/w3c/rev",
         "--suspension-uri", "https://city.example/w3c/sus", "--issuer", issuer)
    entries = _run(capsys, "status", "allocate", str(lst))
    (tmp_path / "status.json").write_text(json.dumps(entries))
    (tmp_path / "claims.json").write_text(json.dumps({"locality": "Kaga"}))
    assert main(["vc", "issue", "--issuer-key", str(tmp_path / "k.jwk"), "--claims", str(tmp_path / "claims.json"),
                 "--status", str(tmp_path / "status.json"), "--now", str(NOW)]) == 0
    (tmp_path / "vc.jwt").write_text(capsys.readouterr().out)

    def publish() -> list[str]:
        args = []
        for purpose, uri in (("revocation", "https://city.example/w3c/rev"),
                             ("suspension", "https://city.example/w3c/sus")):
            out = tmp_path / f"{purpose}.jwt"
            _run(capsys, "status", "publish", str(lst), "--issuer-key", str(tmp_path / "k.jwk"), "--purpose",
                 purpose, "--now", str(NOW), "--out", str(out))
            args += ["--status-list", f"{uri}={out}"]
        return args

    verify = ["vc", "verify", str(tmp_path / "vc.jwt"), "--issuer-key", str(tmp_path / "k.pub.jwk"),
              "--now", str(NOW + 10)]
    assert _run(capsys, *verify, *publish())["status"] == "valid"
    assert _run(capsys, *verify, "--skip-status")["status"] == "not_checked"
    assert main(verify) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "status_not_checked"
    idx = entries[0]["statusListIndex"]
    _run(capsys, "status", "revoke", str(lst), idx)
    assert main([*verify, *publish()]) == 1
    assert json.loads(capsys.readouterr().err)["error"]["code"] == "credential_revoked"


async def test_show_a_published_url(status_server, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    from datetime import UTC, datetime

    from vcsdk.credentials._status_list import StatusListIssuer

    lst = StatusListIssuer(status_server.url("/status/cli"), size=256)
    idx = lst.allocate()["status_list"]["idx"]
    lst.revoke(idx)
    status_server.store.publish("/status/cli", lst.publish(Key.generate("P-256"), now=datetime.fromtimestamp(NOW, UTC)),
                                max_age=60)
    url = status_server.url("/status/cli")
    # The CLI runs its own event loop: run it in a thread while the server answers on this one.
    code = await asyncio.to_thread(main, ["status", "show", url, "--allow-loopback-http", "--index", str(idx)])
    out = capsys.readouterr()
    assert code == 0, out.err
    shown = json.loads(out.out)
    assert shown["sub"] == url and shown["statuses"] == {str(idx): 1} and shown["verified"] is False
    code = await asyncio.to_thread(main, ["status", "show", url])
    assert code == 1 and json.loads(capsys.readouterr().err)["error"]["code"] == "status_list_unavailable"
