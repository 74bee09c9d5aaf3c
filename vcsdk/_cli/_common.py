"""What the credential commands share: reading token files, the clock option, the pinned issuer key,
and ``--status-list URI=FILE`` files."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from vcsdk.errors import InvalidInputError, MalformedTokenError
from vcsdk.keys import Key

__all__ = ["PinnedKeyResolver", "chain_id_arg", "moment", "read_token", "status_list_tokens"]


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
