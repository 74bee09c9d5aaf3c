"""Digital Credentials Query Language (OpenID4VP 1.0 §6) and claims path pointers (§7).

Parsing is strict: anything the spec forbids raises :class:`~vcsdk.errors.ProtocolError` with code
``invalid_request``. Matching decides which candidate credentials satisfy a query and exactly which
claim paths must be disclosed (the minimal disclosure set), following the selection rules of §6.4.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from vcsdk._json import parse_json
from vcsdk.errors import InvalidInputError, ProtocolError

__all__ = [
    "SD_JWT_VC_FORMAT",
    "TRUSTED_AUTHORITY_TYPES",
    "CandidateCredential",
    "ClaimPath",
    "ClaimsQuery",
    "CredentialMatch",
    "CredentialQuery",
    "CredentialSetQuery",
    "DcqlClaimPath",
    "DcqlMatch",
    "DcqlQuery",
    "match_credential_query",
    "match_dcql",
    "parse_dcql_query",
    "select_claims",
    "trusted_by",
]

#: The SD-JWT VC Credential Format Identifier (OpenID4VP 1.0 Appendix B.3).
SD_JWT_VC_FORMAT = "dc+sd-jwt"

#: A claims path pointer: strings select object members, integers array indexes, ``None`` all elements.
DcqlClaimPath = tuple[str | int | None, ...]
ClaimPath = DcqlClaimPath  # the name the oid4vc modules use inside the package
#: A concrete path into one credential (no ``None``).
ConcretePath = tuple[str | int, ...]

_ID = re.compile(r"[A-Za-z0-9_-]+")
MAX_CREDENTIAL_QUERIES = 32
MAX_CLAIMS_PER_QUERY = 64
MAX_PATH_LENGTH = 16
MAX_VALUES = 64
MAX_OPTIONS = 32


def _bad(message: str) -> ProtocolError:
    return ProtocolError(f"DCQL query: {message}", code="invalid_request")


@dataclass(frozen=True, slots=True)
class ClaimsQuery:
    """One requested claim (§6.3): a path, an optional id (for ``claim_sets``) and optional values."""

    path: ClaimPath
    id: str | None = None
    values: tuple[str | int | bool, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.id is not None:
            out["id"] = self.id
        out["path"] = list(self.path)
        if self.values is not None:
            out["values"] = list(self.values)
        return out


@dataclass(frozen=True, slots=True)
class CredentialQuery:
    """One requested credential (§6.1). ``vct_values`` is the SD-JWT VC ``meta`` member (B.3.5)."""

    id: str
    format: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    claims: tuple[ClaimsQuery, ...] | None = None
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    multiple: bool = False
    require_cryptographic_holder_binding: bool = True
    trusted_authorities: tuple[Mapping[str, Any], ...] | None = None

    @property
    def vct_values(self) -> tuple[str, ...]:
        """The accepted ``vct`` values (empty for formats other than ``dc+sd-jwt``)."""
        return tuple(self.meta.get("vct_values", ()))

    def requested_paths(self) -> tuple[ClaimPath, ...]:
        """Every path named in ``claims`` (all options of ``claim_sets`` together)."""
        return tuple(c.path for c in self.claims or ())

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "format": self.format, "meta": _plain(self.meta)}
        if self.multiple:
            out["multiple"] = True
        if not self.require_cryptographic_holder_binding:
            out["require_cryptographic_holder_binding"] = False
        if self.trusted_authorities is not None:
            out["trusted_authorities"] = [_plain(t) for t in self.trusted_authorities]
        if self.claims is not None:
            out["claims"] = [c.to_dict() for c in self.claims]
        if self.claim_sets is not None:
            out["claim_sets"] = [list(s) for s in self.claim_sets]
        return out


@dataclass(frozen=True, slots=True)
class CredentialSetQuery:
    """Alternatives of credentials that satisfy one use case (§6.2)."""

    options: tuple[tuple[str, ...], ...]
    required: bool = True

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"options": [list(o) for o in self.options]}
        if not self.required:
            out["required"] = False
        return out


@dataclass(frozen=True, slots=True)
class DcqlQuery:
    """A parsed DCQL query (§6). Build one with :func:`parse_dcql_query` or directly."""

    credentials: tuple[CredentialQuery, ...]
    credential_sets: tuple[CredentialSetQuery, ...] | None = None

    def __post_init__(self) -> None:
        # Re-validate values built in code through the same rules as parsed ones.
        parse_dcql_query(self.to_dict())

    def credential(self, query_id: str) -> CredentialQuery:
        """The credential query with ``id`` ``query_id``.

        :raises KeyError: if there is none.
        """
        for c in self.credentials:
            if c.id == query_id:
                return c
        raise KeyError(query_id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (the ``dcql_query`` request parameter)."""
        out: dict[str, Any] = {"credentials": [c.to_dict() for c in self.credentials]}
        if self.credential_sets is not None:
            out["credential_sets"] = [s.to_dict() for s in self.credential_sets]
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


# -- parsing ------------------------------------------------------------------------------------


def _nonempty_list(value: Any, what: str, limit: int) -> list[Any]:
    if not isinstance(value, list | tuple) or not value:
        raise _bad(f"{what} must be a non-empty array")
    if len(value) > limit:
        raise _bad(f"{what} has more than {limit} entries")
    return list(value)


def _identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > 128 or _ID.fullmatch(value) is None:
        raise _bad(f"{what} must be a non-empty string of letters, digits, '_' or '-'")
    return value


def parse_claim_path(value: Any) -> ClaimPath:
    """Parse a claims path pointer (§7): a non-empty array of strings, nulls and non-negative integers.

    :raises ProtocolError: (``invalid_request``) otherwise.
    """
    items = _nonempty_list(value, "claims path", MAX_PATH_LENGTH)
    out: list[str | int | None] = []
    for item in items:
        if item is None or isinstance(item, str):
            out.append(item)
        elif isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            out.append(item)
        else:
            raise _bad("a claims path holds only strings, nulls and non-negative integers")
    return tuple(out)


def _parse_claims_query(value: Any) -> ClaimsQuery:
    if not isinstance(value, Mapping):
        raise _bad("each claims entry must be an object")
    path = parse_claim_path(value.get("path"))
    cid = value.get("id")
    if cid is not None:
        cid = _identifier(cid, "claims id")
    values: tuple[str | int | bool, ...] | None = None
    if "values" in value:
        raw = _nonempty_list(value["values"], "claims values", MAX_VALUES)
        for v in raw:
            if not isinstance(v, str | int | bool):
                raise _bad("claims values must be strings, integers or booleans")
        values = tuple(raw)
    return ClaimsQuery(path=path, id=cid, values=values)


def _parse_credential_query(value: Any) -> CredentialQuery:
    if not isinstance(value, Mapping):
        raise _bad("each credentials entry must be an object")
    qid = _identifier(value.get("id"), "credential query id")
    fmt = value.get("format")
    if not isinstance(fmt, str) or not fmt:
        raise _bad(f"credential query {qid!r} needs a format string")
    meta = value.get("meta")
    if not isinstance(meta, Mapping):
        raise _bad(f"credential query {qid!r} needs a meta object")
    if fmt == SD_JWT_VC_FORMAT:
        vcts = _nonempty_list(meta.get("vct_values"), "meta.vct_values", MAX_VALUES)
        if not all(isinstance(v, str) and v for v in vcts):
            raise _bad("meta.vct_values must hold non-empty strings")
        meta = {**meta, "vct_values": tuple(vcts)}
    multiple = value.get("multiple", False)
    binding = value.get("require_cryptographic_holder_binding", True)
    if not isinstance(multiple, bool) or not isinstance(binding, bool):
        raise _bad("multiple and require_cryptographic_holder_binding must be booleans")
    authorities = None
    if "trusted_authorities" in value:
        raw_auth = _nonempty_list(value["trusted_authorities"], "trusted_authorities", MAX_OPTIONS)
        for a in raw_auth:
            if not isinstance(a, Mapping) or not isinstance(a.get("type"), str):
                raise _bad("each trusted_authorities entry needs a type string")
            vals = _nonempty_list(a.get("values"), "trusted_authorities values", MAX_VALUES)
            if not all(isinstance(v, str) for v in vals):
                raise _bad("trusted_authorities values must be strings")
        authorities = tuple(dict(a) for a in raw_auth)
    claims: tuple[ClaimsQuery, ...] | None = None
    if "claims" in value:
        claims = tuple(_parse_claims_query(c) for c in _nonempty_list(value["claims"], "claims", MAX_CLAIMS_PER_QUERY))
        paths = [c.path for c in claims]
        if len(set(paths)) != len(paths):
            raise _bad(f"credential query {qid!r} points to the same claim more than once")
        ids = [c.id for c in claims if c.id is not None]
        if len(set(ids)) != len(ids):
            raise _bad(f"credential query {qid!r} repeats a claims id")
    claim_sets: tuple[tuple[str, ...], ...] | None = None
    if "claim_sets" in value:
        if claims is None:
            raise _bad("claim_sets must not be present without claims")
        if any(c.id is None for c in claims):
            raise _bad("every claims entry needs an id when claim_sets is present")
        known = {c.id for c in claims}
        sets = []
        for option in _nonempty_list(value["claim_sets"], "claim_sets", MAX_OPTIONS):
            sets.append(_id_option(option, "claim set", "claim_sets entry", MAX_CLAIMS_PER_QUERY, known=known,
                                   unknown="claim_sets names unknown claims id"))  # fmt: skip
        claim_sets = tuple(sets)
    return CredentialQuery(
        id=qid,
        format=fmt,
        meta=dict(meta),
        claims=claims,
        claim_sets=claim_sets,
        multiple=multiple,
        require_cryptographic_holder_binding=binding,
        trusted_authorities=authorities,
    )


def _id_option(
    option: Any, what: str, entry: str, limit: int, *, known: Collection[str | None], unknown: str
) -> tuple[str, ...]:
    """One option of ``claim_sets`` or ``credential_sets``: a non-empty list (``limit`` at most) of
    identifiers, each naming one of ``known``.

    :raises ProtocolError: (``invalid_request``) otherwise; ``unknown`` starts the message for an id
        that names nothing.
    """
    ids = tuple(_identifier(i, entry) for i in _nonempty_list(option, what, limit))
    strangers = [i for i in ids if i not in known]
    if strangers:
        raise _bad(f"{unknown} {strangers[0]!r}")
    return ids


def parse_dcql_query(value: Mapping[str, Any] | str | bytes) -> DcqlQuery:
    """Parse and validate a DCQL query (OpenID4VP 1.0 §6).

    Unknown members are ignored, as the spec requires; everything the spec forbids is refused.

    :param value: the JSON object, or its JSON text.
    :raises ProtocolError: (``invalid_request``) if the query is malformed: no credentials, a bad
        or repeated id, a missing ``meta.vct_values`` for ``dc+sd-jwt``, a bad claims path, a
        repeated claim, ``claim_sets`` or ``credential_sets`` naming unknown ids, limits exceeded.
    :return: the typed query.
    """
    if isinstance(value, str | bytes):
        try:
            value = parse_json(value, what="DCQL query", max_bytes=64 * 1024)
        except InvalidInputError as exc:
            raise _bad("not valid JSON") from exc
    if not isinstance(value, Mapping):
        raise _bad("must be a JSON object")
    creds = tuple(
        _parse_credential_query(c)
        for c in _nonempty_list(value.get("credentials"), "credentials", MAX_CREDENTIAL_QUERIES)
    )
    ids = [c.id for c in creds]
    if len(set(ids)) != len(ids):
        raise _bad("a credential query id is present more than once")
    sets: tuple[CredentialSetQuery, ...] | None = None
    if "credential_sets" in value:
        parsed = []
        for entry in _nonempty_list(value["credential_sets"], "credential_sets", MAX_OPTIONS):
            if not isinstance(entry, Mapping):
                raise _bad("each credential_sets entry must be an object")
            options = []
            for option in _nonempty_list(entry.get("options"), "credential set options", MAX_OPTIONS):
                options.append(_id_option(option, "option", "credential set option", MAX_OPTIONS, known=ids,
                                          unknown="credential_sets names unknown credential query id"))  # fmt: skip
            required = entry.get("required", True)
            if not isinstance(required, bool):
                raise _bad("credential set required must be a boolean")
            parsed.append(CredentialSetQuery(options=tuple(options), required=required))
        sets = tuple(parsed)
    query = object.__new__(DcqlQuery)
    object.__setattr__(query, "credentials", creds)
    object.__setattr__(query, "credential_sets", sets)
    return query


# -- claims path processing (§7.1) --------------------------------------------------------------


def select_claims(claims: Mapping[str, Any], path: Sequence[str | int | None]) -> list[tuple[ConcretePath, Any]]:
    """Apply a claims path pointer to processed (disclosed) claims (OpenID4VP 1.0 §7.1.1).

    :return: the selected elements with their concrete paths; empty when nothing is selected or the
        pointer does not fit the data (the spec's "abort processing and return an error").
    """
    selected: list[tuple[ConcretePath, Any]] = [((), claims)]
    for component in path:
        nxt: list[tuple[ConcretePath, Any]] = []
        for where, element in selected:
            if isinstance(component, str):
                if not isinstance(element, Mapping):
                    return []
                if component in element:
                    nxt.append(((*where, component), element[component]))
            elif component is None:
                if not isinstance(element, list):
                    return []
                nxt.extend(((*where, i), v) for i, v in enumerate(element))
            elif isinstance(component, int) and not isinstance(component, bool) and component >= 0:
                if not isinstance(element, list):
                    return []
                if component < len(element):
                    nxt.append(((*where, component), element[component]))
            else:
                return []
        selected = nxt
    return selected


def _same_value(a: Any, b: Any) -> bool:
    # §6.3: type *and* value must match exactly (True is not 1, "1" is not 1).
    return type(a) is type(b) and a == b


def _claim_present(claims: Mapping[str, Any], query: ClaimsQuery) -> bool:
    found = select_claims(claims, query.path)
    if not found:
        return False
    if query.values is None:
        return True
    return any(_same_value(v, want) for _, v in found for want in query.values)


# -- matching (§6.4) ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CandidateCredential:
    """A credential the wallet holds, as matching sees it: unverified processed claims and type.

    :param ref: the wallet's own reference to the credential (returned in matches).
    :param claims: the processed claims (all disclosures applied), as the holder sees them.
    :param holder_binding: whether the credential is bound to a holder key (``cnf``).
    """

    ref: str
    format: str
    vct: str | None
    claims: Mapping[str, Any]
    holder_binding: bool = True
    #: base64url Authority Key Identifiers of the certificates in the issuer's ``x5c`` chain (the
    #: ``aki`` trusted authority type, §6.1.1.1); empty for issuers without certificates (did:ethr).
    authority_key_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CredentialMatch:
    """One candidate that satisfies one credential query, and exactly what it must disclose.

    ``paths`` are the requested claims path pointers present in the credential (the minimal
    disclosure set); ``concrete_paths`` expands ``None`` components to the actual array indexes.
    """

    query_id: str
    ref: str
    paths: tuple[ClaimPath, ...]
    concrete_paths: tuple[ConcretePath, ...]


@dataclass(frozen=True, slots=True)
class DcqlMatch:
    """The outcome of matching a whole query against a wallet's credentials.

    :ivar matches: for each credential query id, every candidate that satisfies it (wallet order).
    :ivar selected_query_ids: the credential queries to answer: all required ones (the first
        satisfiable option of each required credential set) plus satisfiable optional ones;
        ``None`` if the required part cannot be satisfied.
    """

    query: DcqlQuery
    matches: Mapping[str, tuple[CredentialMatch, ...]]
    selected_query_ids: tuple[str, ...] | None

    @property
    def satisfiable(self) -> bool:
        return self.selected_query_ids is not None

    def selection(self) -> dict[str, tuple[CredentialMatch, ...]]:
        """The default answer: for each selected query, its first candidate (the minimal answer).

        :raises ProtocolError: (``access_denied``) if the query cannot be satisfied.
        """
        if self.selected_query_ids is None:
            raise ProtocolError("the wallet holds no credentials that satisfy the request", code="access_denied")
        return {qid: self.matches[qid][:1] for qid in self.selected_query_ids}


def match_credential_query(query: CredentialQuery, candidate: CandidateCredential) -> CredentialMatch | None:
    """Decide whether ``candidate`` satisfies ``query`` and which claims it must disclose.

    Rules (OpenID4VP 1.0 §6.4.1): a credential must match ``trusted_authorities`` when the query
    has them (§6.1.1, the ``aki`` type); without ``claims`` nothing selectively disclosable is requested;
    with ``claims`` only, every claim must be present (and match ``values`` if given); with
    ``claim_sets``, the first set whose claims are all present is chosen.

    :return: the match, or ``None`` if the candidate does not satisfy the query.
    """
    if candidate.format != query.format:
        return None
    if query.format == SD_JWT_VC_FORMAT and candidate.vct not in query.vct_values:
        return None
    if query.require_cryptographic_holder_binding and not candidate.holder_binding:
        return None
    if query.trusted_authorities is not None and not trusted_by(query.trusted_authorities, candidate.authority_key_ids):
        return None
    chosen: tuple[ClaimsQuery, ...]
    if query.claims is None:
        chosen = ()
    elif query.claim_sets is None:
        if not all(_claim_present(candidate.claims, c) for c in query.claims):
            return None
        chosen = query.claims
    else:
        by_id = {c.id: c for c in query.claims}
        for option in query.claim_sets:
            members = tuple(by_id[i] for i in option)
            if all(_claim_present(candidate.claims, c) for c in members):
                chosen = members
                break
        else:
            return None
    concrete: list[ConcretePath] = []
    for c in chosen:
        for where, v in select_claims(candidate.claims, c.path):
            if c.values is None or any(_same_value(v, want) for want in c.values):
                if where not in concrete:
                    concrete.append(where)
    return CredentialMatch(
        query_id=query.id, ref=candidate.ref, paths=tuple(c.path for c in chosen), concrete_paths=tuple(concrete)
    )


#: The trusted authority types this wallet evaluates (§6.1.1). ``etsi_tl`` and ``openid_federation``
#: need a trusted list or a federation the city does not run: a query naming only those matches nothing.
TRUSTED_AUTHORITY_TYPES = ("aki",)


def trusted_by(authorities: Sequence[Mapping[str, Any]], authority_key_ids: frozenset[str]) -> bool:
    """Whether a credential whose issuer chain has ``authority_key_ids`` matches one of the
    ``trusted_authorities`` entries (§6.1.1: a match with one value of one entry suffices).

    Only the ``aki`` type is evaluated; an entry of another type never matches.
    """
    for entry in authorities:
        if entry.get("type") == "aki":
            values = entry.get("values")
            if isinstance(values, Sequence) and any(v in authority_key_ids for v in values if isinstance(v, str)):
                return True
    return False


def match_dcql(query: DcqlQuery, candidates: Iterable[CandidateCredential]) -> DcqlMatch:
    """Match a DCQL query against the wallet's credentials (OpenID4VP 1.0 §6.4.2).

    Credentials that do not match a credential query are treated as if they did not exist. If the
    required part of the query cannot be satisfied, no credential may be returned.

    :return: every match per credential query and the query ids to answer.
    """
    pool = list(candidates)
    matches: dict[str, tuple[CredentialMatch, ...]] = {}
    for cq in query.credentials:
        found = (match_credential_query(cq, cand) for cand in pool)
        matches[cq.id] = tuple(m for m in found if m is not None)
    available = {qid for qid, ms in matches.items() if ms}
    selected: list[str] = []
    if query.credential_sets is None:
        if len(available) != len(query.credentials):
            return DcqlMatch(query, matches, None)
        selected = [c.id for c in query.credentials]
    else:
        for cset in query.credential_sets:
            option = next((o for o in cset.options if all(i in available for i in o)), None)
            if option is None:
                if cset.required:
                    return DcqlMatch(query, matches, None)
                continue
            selected.extend(i for i in option if i not in selected)
    return DcqlMatch(query, matches, tuple(selected))


def path_covers(requested: Sequence[str | int | None], concrete: Sequence[str | int]) -> bool:
    """Whether a disclosed ``concrete`` path is allowed by a ``requested`` pointer.

    A disclosure is allowed when it lies on the way to a requested claim (a container that must be
    revealed to reach it) or inside a requested claim (a requested object reveals its members).
    """
    for r, c in zip(requested, concrete, strict=False):
        if r is None:
            if not isinstance(c, int):
                return False
        elif type(r) is not type(c) or r != c:
            return False
    return True
