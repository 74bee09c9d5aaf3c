"""``vcsdk kyc serve-registry`` as a real process, ``vcsdk kyc check`` against it."""

from __future__ import annotations

import json
import select
import subprocess
import sys

import pytest

from vcsdk._cli import main


@pytest.fixture(scope="module")
def served_registry():
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcsdk", "kyc", "serve-registry", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # The process prints its address once it listens; a stuck start fails instead of hanging.
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, "serve-registry printed nothing within 60 s"
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        yield json.loads(line)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0  # SIGTERM is a clean shutdown


def run(capsys, *argv):
    code = main(["kyc", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_serve_registry_prints_its_address(served_registry):
    assert served_registry["url"].startswith("http://127.0.0.1:")
    assert served_registry["wsdl"] == served_registry["url"] + "?wsdl"
    assert served_registry["residents"] >= 10


def test_check_full_match_with_status(served_registry, capsys):
    code, out, _ = run(
        capsys, "check", "--endpoint", served_registry["url"], "--family-name", "佐藤", "--given-name", "健一",
        "--birth-date", "1958-07-20", "--address", "〒305-0051 二の宮1-8-10",
    )
    assert code == 0
    answer = json.loads(out)
    assert answer["matched"] == "full"
    assert answer["resident"]["address"]["street"] == "二の宮一丁目8番10号"
    assert answer["status"] == {"status": "moved_out", "since": "2024-03-31"}


def test_check_partial_match(served_registry, capsys):
    code, out, _ = run(
        capsys, "check", "--endpoint", served_registry["url"], "--family-name", "佐藤", "--given-name", "健一",
        "--birth-date", "1958-07-21", "--address", "つくば市二の宮1-8-10",
    )
    assert code == 0
    assert json.loads(out) == {"matched": "partial", "matched_fields": ["address", "familyName", "givenName"]}


def test_check_against_a_closed_port_reports_a_json_error(closed_port_url, capsys):
    code, out, err = run(
        capsys, "check", "--endpoint", closed_port_url, "--family-name", "佐藤", "--given-name", "健一",
        "--birth-date", "1958-07-20", "--address", "x", "--attempts", "1", "--timeout", "2",
    )
    assert code == 1 and out == ""
    error = json.loads(err)["error"]
    assert error["code"] == "resident_registry_unavailable"
    assert "佐藤" not in err


def test_check_refuses_a_bad_date(capsys):
    code, _, err = run(
        capsys, "check", "--endpoint", "http://127.0.0.1:1/x", "--family-name", "a", "--given-name", "b",
        "--birth-date", "20.7.1958", "--address", "x",
    )
    assert code == 1
    assert json.loads(err)["error"]["code"] == "invalid_input"
