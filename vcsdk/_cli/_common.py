"""What the credential commands share: reading token files, the clock option, the pinned issuer key,
and ``--status-list URI=FILE`` files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from vcsdk.errors import (
    CredentialStatusError,
    InvalidInputError,
    MalformedTokenError,
    StatusListUnavailableError,
)
from vcsdk.keys import Key

__all__ = [
    "PinnedKeyResolver",
    "chain_id_arg",
    "ethr_chain_id_of",
    "moment",
    "read_token",
    "status_in_flag_terms",
    "status_list_tokens",
]


def read_token(path: Path) -> str:
    """A token from a file (``-``: standard input), surrounding whitespace removed.

    :raises MalformedTokenError: if the bytes are not ASCII text (a token never is anything else).
    """
    data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    try:
        return data.strip().decode("ascii")
    except UnicodeDecodeError:
        raise MalformedTokenError(f"{path.name or 'stdin'} does not hold a token (not ASCII text)") from None


def chain_id_arg(text: str) -> int:
    """``--chain-id`` as decimal (``31337``) or hex (``0x7a69``, as in a did:ethr), an argparse ``type``.

    :raises argparse.ArgumentTypeError: with the accepted forms, which argparse prints as a usage error.
    """
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r} is not a chain id; give a positive number, e.g. 31337 or 0x7a69"
        )
    return value


def ethr_chain_id_of(token: str) -> int:
    """The chain id a token's did:ethr issuer names (``did:ethr:0x7a69:…`` → 31337), so the user
    need not repeat it as ``--chain-id``.

    :raises InvalidInputError: if the issuer is not a did:ethr, or names its network only by name.
    """
    from vcsdk.credentials import peek
    from vcsdk.did import parse_ethr_did

    issuer = peek(token).unverified_claims.get("iss")
    if not isinstance(issuer, str) or not issuer.startswith("did:ethr:"):
        raise InvalidInputError(
            "--registry and --rpc-url resolve a did:ethr issuer, and this token's issuer is not one; "
            "drop them (did:key and did:jwk resolve offline), or pass --issuer-key"
        )
    parsed = parse_ethr_did(issuer)
    if parsed.chain_id is not None:
        return parsed.chain_id
    if parsed.network == "mainnet":
        return 1
    raise InvalidInputError(f"the issuer's DID names its network by name ({parsed.network[:40]}); pass --chain-id")


def moment(unix: int | None) -> datetime:
    """The ``--now UNIX`` option as a time (default: the current time)."""
    return datetime.fromtimestamp(unix, UTC) if unix is not None else datetime.now(UTC)


class PinnedKeyResolver:
    """``--issuer-key``: the operator named the issuer's key, used whatever the token's issuer and ``kid``."""

    def __init__(self, key: Key) -> None:
        self.key = key.public_key()

    async def resolve_key(
        self, issuer: str, kid: str | None, *, relationship: str = "assertionMethod", at: datetime | None = None
    ) -> Key:
        return self.key


def status_list_tokens(specs: list[str]) -> dict[str, str]:
    """``--status-list URI=FILE`` options as URI → token (the last ``=`` separates the file).

    :raises InvalidInputError: for an option without both parts.
    :raises MalformedTokenError: for a file that does not hold a token.
    """
    tokens: dict[str, str] = {}
    for spec in specs:
        uri, sep, file = spec.rpartition("=")
        if not sep or not uri or not file:
            raise InvalidInputError("--status-list takes URI=FILE")
        tokens[uri] = read_token(Path(file))
    return tokens


@contextmanager
def status_in_flag_terms() -> Iterator[None]:
    """Around a verify call: the SDK's status advice ("pass a status checker") in this CLI's flags.

    :raises CredentialStatusError: ``status_not_checked``, naming ``--status-list`` and ``--skip-status``.
    :raises StatusListUnavailableError: when no ``--status-list`` was given for the credential's list.
    """
    try:
        yield
    except CredentialStatusError as exc:
        uri = exc.details.get("uri")
        where = f" ({uri})" if isinstance(uri, str) else ""
        if exc.code == "status_not_checked":
            raise CredentialStatusError(
                f"the credential names a status list{where}, so checking it needs that list: pass "
                "--status-list URI=FILE (FILE holding the list's token, e.g. saved with curl from URI), or "
                "--skip-status to verify without checking revocation",
                code="status_not_checked",
                details=exc.details,
            ) from exc
        if isinstance(exc, StatusListUnavailableError) and exc.details.get("source") == "static":
            raise StatusListUnavailableError(
                f"no --status-list was given for the credential's status list{where}; pass --status-list "
                "URI=FILE with exactly that URI, or --skip-status",
                details=exc.details,
            ) from exc
        raise
