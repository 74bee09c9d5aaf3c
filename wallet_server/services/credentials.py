"""The resident's credential store: encrypted at rest, paginated, scoped to the resident."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vcsdk.encoding import parse_json
from vcsdk.errors import InvalidInputError, StorageError
from wallet_server.services._common import Clock, new_id, require_id, require_str
from wallet_server.services._cursor import decode_cursor, encode_cursor
from wallet_server.services._describe import CredentialFacts, describe_credential
from wallet_server.services.auth import Principal, refuse_proof
from wallet_server.services.encryption import DataKeys, KeyProvider, credential_aad, open_sealed, seal
from wallet_server.storage import CredentialKey, DeviceProof, Page, Store, StoredCredential

__all__ = ["CredentialFormat", "CredentialService", "CredentialSummary", "CredentialView", "CredentialsPage",
           "SummariesPage"]

CredentialFormat = Literal["dc+sd-jwt", "vc+sd-jwt", "jwt_vc_json", "vc+jwt"]
MAX_CREDENTIAL_CHARS = 100_000
MAX_METADATA_BYTES = 8_192
MAX_PAGE = 100


@dataclass(frozen=True, slots=True)
class CredentialView:
    """A decrypted credential: ``credential`` is the raw token (e.g. SD-JWT with its disclosures)."""

    id: str
    format: str
    created_at: datetime
    metadata: dict[str, Any]
    credential: str
    issuer: str | None = None
    vct: str | None = None

    def __repr__(self) -> str:
        return f"CredentialView(id={self.id!r}, format={self.format!r})"


@dataclass(frozen=True, slots=True)
class CredentialSummary:
    """What a listing shows of a credential: everything but the token itself."""

    id: str
    format: str
    created_at: datetime
    metadata: dict[str, Any]
    issuer: str | None = None
    vct: str | None = None


@dataclass(frozen=True, slots=True)
class SummariesPage:
    """One page of credential summaries and the cursor for the next, if any."""

    items: tuple[CredentialSummary, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class CredentialsPage:
    """One page of credentials and the cursor for the next, if any."""

    items: tuple[CredentialView, ...]
    next_cursor: str | None


class CredentialService:
    """Stores, lists, reads and deletes a resident's credentials.

    Each credential (raw token and the app's metadata) is one AES-256-GCM ciphertext under the
    resident's data key, with associated data naming the resident and the credential id.

    :param store: the wallet store.
    :param keys: wraps and unwraps residents' data keys.
    :param clock: returns the current UTC time.
    :param describe: reads issuer and type from a token, unverified (default: vcsdk's ``peek``).
    """

    def __init__(
        self,
        store: Store,
        *,
        keys: KeyProvider,
        clock: Clock,
        describe: Callable[[str, str], CredentialFacts] = describe_credential,
    ) -> None:
        self._store = store
        self._data_keys = DataKeys(store, keys)
        self._clock = clock
        self._describe = describe
        # A stored credential never changes: its summary is decrypted once per process (bounded).
        self._summaries: dict[str, CredentialSummary] = {}

    def _remember(self, summary: CredentialSummary) -> CredentialSummary:
        if len(self._summaries) >= _SUMMARIES:
            del self._summaries[next(iter(self._summaries))]
        self._summaries[summary.id] = summary
        return summary

    async def _data_key(self, resident_id: str) -> AESGCM:
        return await self._data_keys.cipher(resident_id)

    def _open(self, data_key: AESGCM, row: StoredCredential) -> CredentialView:
        plain = open_sealed(data_key, row.ciphertext, aad=credential_aad(row.resident_id, row.id))
        try:
            body = json.loads(plain)
            return CredentialView(
                row.id,
                row.format,
                row.created_at,
                body["metadata"],
                body["credential"],
                body.get("issuer"),
                body.get("vct"),
            )
        except (ValueError, KeyError, TypeError):
            raise StorageError("a stored credential is not in the expected shape") from None

    async def put(
        self,
        principal: Principal,
        credential: Any,
        *,
        format: Any,
        metadata: Any = None,
        proof: DeviceProof | None = None,
    ) -> CredentialView:
        """Encrypt and store a credential the app received.

        :param credential: the raw token (an SD-JWT with its disclosures, or a JWT).
        :param format: one of ``dc+sd-jwt``, ``vc+sd-jwt``, ``jwt_vc_json``, ``vc+jwt``.
        :param metadata: a small JSON object the app wants back in listings (display name, type, …).
        :param proof: the request's DPoP proof, not yet recorded (see
            :meth:`~wallet_server.services.AuthService.check_request`): it is recorded in the same
            statement as the credential, which is stored only if the proof can be.
        :raises InvalidInputError: if any of them is malformed or too large, or the token is not a
            well-formed token of ``format``.
        :raises AuthenticationError: (with ``proof``) removed device or ended login.
        :raises DpopReplayError: (with ``proof``) the proof was used before.
        :return: the stored credential.
        """
        raw = require_str(credential, "credential", max_len=MAX_CREDENTIAL_CHARS)
        if not raw.isascii() or any(char in raw for char in _WHITESPACE):
            raise InvalidInputError("credential must be a compact token: ASCII without whitespace")
        if format not in _FORMATS:
            raise InvalidInputError(f"format must be one of {', '.join(get_args(CredentialFormat))}")
        meta = _check_metadata(metadata)
        facts = self._describe(format, raw)
        data_key = await self._data_key(principal.resident_id)
        row_id = new_id("cred")
        plain = _record_json(raw, meta, facts)
        sealed = seal(data_key, plain, aad=credential_aad(principal.resident_id, row_id))
        row = StoredCredential(row_id, principal.resident_id, format, self._clock(), sealed)
        if proof is None:
            await self._store.put_credential(row)
        else:
            if proof.resident_id != principal.resident_id:
                raise InvalidInputError("the proof belongs to another resident")
            refuse_proof(await self._store.prove_and_put_credential(proof, row))
        view = CredentialView(row.id, row.format, row.created_at, meta, raw, facts.issuer, facts.vct)
        self._remember(_summary(view))
        return view

    async def get(self, principal: Principal, credential_id: str) -> CredentialView:
        """:raises NotFoundError: if the resident has no such credential."""
        row = await self._store.get_credential(principal.resident_id, require_id(credential_id, "credential"))
        return self._open(await self._data_key(principal.resident_id), row)

    async def list(self, principal: Principal, *, limit: int = 20, cursor: str | None = None) -> CredentialsPage:
        """One page, oldest first.

        :raises InvalidInputError: bad ``limit`` or a cursor this server did not make.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        page = await self._store.list_credentials(principal.resident_id, limit=limit, after=decode_cursor(cursor))
        if not page.items:
            return CredentialsPage((), None)
        data_key = await self._data_key(principal.resident_id)
        items = tuple(self._open(data_key, row) for row in page.items)
        for view in items:
            self._remember(_summary(view))
        return CredentialsPage(items, encode_cursor(page.next_after) if page.next_after else None)

    async def keys(
        self, principal: Principal, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[tuple[CredentialKey, ...], str | None]:
        """One page of the resident's credentials as ids, formats and creation times (nothing
        decrypted), oldest first, and the cursor for the next, as :meth:`list` pages them.

        :raises InvalidInputError: bad ``limit`` or a cursor this server did not make.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        page = await self._store.list_credential_keys(principal.resident_id, limit=limit, after=decode_cursor(cursor))
        return page.items, encode_cursor(page.next_after) if page.next_after else None

    def known(self, key: CredentialKey) -> CredentialSummary | None:
        """The summary of ``key``'s credential this process decrypted before (a stored credential
        never changes: the same id and creation time), or ``None``."""
        summary = self._summaries.get(key.id)
        return summary if summary is not None and summary.created_at == key.created_at else None

    async def summaries(
        self, principal: Principal, *, limit: int = 20, cursor: str | None = None, proof: DeviceProof | None = None
    ) -> SummariesPage:
        """One page of summaries (no tokens), oldest first: what the app's credential list shows.

        :param proof: the request's DPoP proof, not yet recorded (see
            :meth:`~wallet_server.services.AuthService.check_request`): it is recorded in the same
            round trip as the listing, and the listing is refused if it cannot be.
        :raises InvalidInputError: bad ``limit`` or a cursor this server did not make.
        :raises AuthenticationError: (with ``proof``) removed device or ended login.
        :raises DpopReplayError: (with ``proof``) the proof was used before.
        """
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidInputError(f"limit must be between 1 and {MAX_PAGE}")
        after = decode_cursor(cursor)
        if proof is None:
            rows = await self._store.list_credentials(principal.resident_id, limit=limit, after=after)
            return await self._summaries_of(principal, rows)
        if proof.resident_id != principal.resident_id:
            raise InvalidInputError("the proof belongs to another resident")
        outcome, keys = await self._store.prove_and_list_credential_keys(proof, limit=limit, after=after)
        refuse_proof(outcome)
        cached = [self._summaries.get(k.id) for k in keys.items]
        if all(s is not None and s.created_at == k.created_at for s, k in zip(cached, keys.items, strict=True)):
            items = tuple(s for s in cached if s is not None)
            return SummariesPage(items, encode_cursor(keys.next_after) if keys.next_after else None)
        # Not decrypted in this process yet (a restart, another worker's upload): the page's
        # ciphertexts, once; the proof is already recorded.
        rows = await self._store.list_credentials(principal.resident_id, limit=limit, after=after)
        return await self._summaries_of(principal, rows)

    async def _summaries_of(self, principal: Principal, page: Page[StoredCredential]) -> SummariesPage:
        items = []
        for row in page.items:
            summary = self._summaries.get(row.id)
            if summary is None or summary.created_at != row.created_at:
                view = self._open(await self._data_key(principal.resident_id), row)
                summary = self._remember(_summary(view))
            items.append(summary)
        return SummariesPage(tuple(items), encode_cursor(page.next_after) if page.next_after else None)

    async def delete(self, principal: Principal, credential_id: str) -> None:
        """:raises NotFoundError: if the resident has no such credential."""
        await self._store.delete_credential(principal.resident_id, require_id(credential_id, "credential"))
        self._summaries.pop(credential_id, None)


_SUMMARIES = 50_000
_FORMATS = frozenset(get_args(CredentialFormat))
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":"))
#: ASCII whitespace (what str.isspace() finds in ASCII text): each one is a single-character search
#: of the token in C (memchr), about 1 µs for all ten over a 1.6 KB token where a character-class
#: regular expression took about 20.
_WHITESPACE = ("\t", "\n", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f", " ")


#: The characters JSON (ensure_ascii) writes as they are: printable ASCII but the quote and backslash.
_AS_IS_IN_JSON = bytes(c for c in range(0x20, 0x7F) if c not in b'"\\')


def _record_json(raw: str, meta: dict[str, Any], facts: CredentialFacts) -> bytes:
    """The plaintext of a stored credential: ``{"credential", "metadata", "issuer", "vct"}`` as
    compact JSON."""
    rest = _COMPACT_JSON.encode({"metadata": meta, "issuer": facts.issuer, "vct": facts.vct})
    if raw.isascii():
        token = raw.encode("ascii")
        if not token.translate(None, _AS_IS_IN_JSON):
            # JSON writes these characters as they are: the same text as the encoder's, without
            # its escape check of each of the token's ~1.6 KB (one table pass over the bytes here).
            return b'{"credential":"' + token + b'",' + rest[1:].encode()
    record = {"credential": raw, "metadata": meta, "issuer": facts.issuer, "vct": facts.vct}
    return _COMPACT_JSON.encode(record).encode()


def _summary(view: CredentialView) -> CredentialSummary:
    return CredentialSummary(view.id, view.format, view.created_at, view.metadata, view.issuer, view.vct)


def _check_metadata(metadata: Any) -> dict[str, Any]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise InvalidInputError("metadata must be a JSON object")
    encoded = _COMPACT_JSON.encode(metadata)
    if len(encoded.encode()) > MAX_METADATA_BYTES:
        raise InvalidInputError(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
    # Re-parse strictly: bounded depth, and what we store is exactly what we return.
    value: dict[str, Any] = parse_json(encoded, what="metadata", max_depth=8)
    return value
