"""docs/security.md lists every verification check with its code, and only codes the code raises."""

from __future__ import annotations

import re
from pathlib import Path

import vcsdk.errors as errors
from vcsdk._time import NUMERIC_DATE_CODE

ROOT = Path(__file__).resolve().parents[2]
#: The modules that run token, credential and presentation checks: each code they raise is a check.
CHECK_MODULES = [
    "vcsdk/_json.py",
    "vcsdk/keys/_jws.py",
    "vcsdk/credentials/_sd_jwt/_common.py",
    "vcsdk/credentials/_sd_jwt/_parse.py",
    "vcsdk/credentials/_sd_jwt/_process.py",
    "vcsdk/credentials/_sd_jwt/_verify.py",
    "vcsdk/credentials/_status_list/_token.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "vcsdk/credentials/_w3c").glob("*.py")),
]
_LITERAL = re.compile(r'code="([a-z0-9_]+)"')


def _documented() -> set[str]:
    text = (ROOT / "docs/security.md").read_text()
    section = text.split("## Every verification check and its code", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", section, flags=re.M))


def _raised_by_checks() -> set[str]:
    classes = {c.code for c in (getattr(errors, n) for n in errors.__all__) if issubclass(c, errors.VerificationError)}
    literals = {code for path in CHECK_MODULES for code in _LITERAL.findall((ROOT / path).read_text())}
    return classes | literals | {NUMERIC_DATE_CODE}


def _every_code_in_the_code() -> set[str]:
    out = {getattr(errors, n).code for n in errors.__all__}
    for path in (ROOT / "vcsdk").rglob("*.py"):
        out |= set(_LITERAL.findall(path.read_text()))
    return out | {NUMERIC_DATE_CODE}


def test_every_check_is_in_the_table() -> None:
    missing = _raised_by_checks() - _documented()
    assert not missing, f"docs/security.md lacks {sorted(missing)}"


def test_the_table_names_only_real_codes() -> None:
    unknown = _documented() - _every_code_in_the_code()
    assert not unknown, f"docs/security.md names codes nothing raises: {sorted(unknown)}"


def test_the_checker_sees_a_missing_row() -> None:
    # The test above can fail: a code raised by a check but absent from the table is reported.
    assert "reserved_claim_name" in _raised_by_checks() and "reserved_claim_name" in _documented()
    assert "no_such_code" not in _every_code_in_the_code()
