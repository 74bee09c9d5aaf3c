"""The city's elections, run from the console with the voting SDK (``vcsdk.voting``; docs/voting.md).

An election moves through five states, each an admin action:

``draft``
    Created: the election (districts, voting age, period), its token keys (one, or one per district;
    RSA, sealed with the server data key) and the voting service that will hold the ballot box.
``committed``
    The city deployed the election's anchor contract and committed each token key at its slot,
    before voting opens (voters' devices check the key they blind against this commitment). The
    voting service's account may be allowed to anchor its ballot batches in the same contract.
``open``
    The city offers ``VotingEligibilityCredential``s after a registry check
    (:class:`vcsdk.voting.EligibilityIssuer`, OpenID4VCI under ``/voting/{id}/issuer``) and signs
    ballot tokens blindly (:class:`vcsdk.voting.BallotTokenIssuer`, ``/voting/{id}/ballot-tokens``).
``closed``
    No more credentials or tokens.
``published``
    The voting service's publication was fetched and checked against the chain
    (:func:`vcsdk.voting.verify_published_election`); the verified tally is kept.

Who received a credential or a token is in the durable issuance ledger (SQLite or PostgreSQL, the
wallet database's file or schema, its own tables), never in the election's row. The wallet server
never sees a serial, an unblinded signature or a ballot: those stay between the voter's device
and the voting service.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import urlencode

from cryptography.hazmat.primitives.asymmetric import rsa

from vcsdk import blindrsa
from vcsdk.errors import ConflictError, InvalidInputError, NotFoundError, RegistryNotConfiguredError
from vcsdk.oid4vc import HttpRequest, StateStore
from vcsdk.voting import (
    BallotTokenIssuer,
    Election,
    EligibilityApplication,
    EligibilityIssuer,
    EligibilityOffered,
    NotEligible,
    generate_token_keys,
    verify_published_election,
)
from wallet_server.services._common import Clock, require_str
from wallet_server.services.admin import Administrator
from wallet_server.services.encryption import KeyProvider, WrappedKey
from wallet_server.storage import ElectionDataStore, ElectionRow

if TYPE_CHECKING:
    from vcsdk.credentials import VctRegistry
    from vcsdk.kyc import ResidentRegistry
    from vcsdk.voting import IssuanceLedger
    from wallet_server.services.city import CitySetup
    from wallet_server.services.wallet import OutgoingHttp

__all__ = ["ELECTIONS_PATH", "ElectionService", "ElectionState", "ElectionView", "EligibilityOutcome"]

#: Where an election's public endpoints live: ``/voting/{election_id}/…``.
ELECTIONS_PATH: Final = "/voting"
ElectionState = Literal["draft", "committed", "open", "closed", "published"]
_NEXT: Final[Mapping[str, tuple[str, str]]] = {
    # action: (from, to)
    "open": ("committed", "open"),
    "close": ("open", "closed"),
}
MAX_CHOICES: Final = 64
KEY_SIZE: Final = 2048


def _aad(election_id: str) -> bytes:
    return f"vcsdk-wallet/election-keys/v1/{election_id}".encode()


@dataclass(frozen=True, slots=True)
class ElectionView:
    """An election as the console and the public endpoint show it."""

    election: Election
    state: ElectionState
    facts: Mapping[str, Any]
    created_by: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class EligibilityOutcome:
    """An eligibility check: ``offered`` (the offer link and its PIN) or ``not_eligible`` (why)."""

    outcome: Literal["offered", "not_eligible"]
    offer_uri: str | None = None
    tx_code: str | None = None
    district: str | None = None
    reason: str | None = None


@dataclass
class _Runtime:
    eligibility: EligibilityIssuer
    tokens: BallotTokenIssuer


class ElectionService:
    """Creates and runs the city's elections.

    :param data: the election rows.
    :param city: the city's DID, keys and chain (set up on first use).
    :param keys: seals the token keys.
    :param state: short-lived protocol state (offers, codes, nonces) shared by the instances.
    :param ledger: opens the durable issuance ledger on first use.
    :param registry: the resident registry (eligibility checks); ``None`` disables offers.
    :param http: fetches the voting service's publication.
    :param clock: returns the current UTC time.
    :param public_base_url: this server's public URL (``None``: each request's origin).
    :param vcts: the credential types (``voting_eligibility``).
    :param rpc_url: the public JSON-RPC endpoint for the ballot page's link (``None``: left out).
    """

    def __init__(
        self,
        data: ElectionDataStore,
        *,
        city: CitySetup,
        keys: KeyProvider,
        state: StateStore,
        ledger: Any,
        registry: ResidentRegistry | None,
        http: OutgoingHttp,
        clock: Clock,
        public_base_url: str | None,
        vcts: VctRegistry,
        rpc_url: str | None = None,
    ) -> None:
        self._data = data
        self._city = city
        self._keys = keys
        self._state = state
        self._open_ledger = ledger
        self._ledger: IssuanceLedger | None = None
        self._registry = registry
        self._http = http
        self._clock = clock
        self._base = public_base_url.rstrip("/") if public_base_url else None
        self.vcts = vcts
        self._rpc_url = rpc_url
        self._runtimes: dict[str, _Runtime] = {}
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._ledger is not None:
            await self._ledger.close()

    def base(self, origin: str) -> str:
        return self._base or origin.rstrip("/")

    def token_issuer_url(self, election_id: str, origin: str) -> str:
        return f"{self.base(origin)}{ELECTIONS_PATH}/{election_id}/ballot-tokens"

    def credential_issuer_url(self, election_id: str, origin: str) -> str:
        return f"{self.base(origin)}{ELECTIONS_PATH}/{election_id}/issuer"

    def ballot_page(self, view: ElectionView, origin: str) -> str:
        """The web wallet's ballot page for this election: the voting service, the token issuer and
        (if configured) the chain node the page checks the key commitment on."""
        election_id = view.election.election_id
        query = {"service": view.facts["voting_service_url"], "issuer": self.token_issuer_url(election_id, origin)}
        if self._rpc_url:
            query["rpc"] = self._rpc_url
        return f"{self.base(origin)}/app/#/vote?{urlencode(query)}"

    # -- creating ----------------------------------------------------------------------------------

    async def create(self, admin: Administrator, body: Mapping[str, Any]) -> ElectionView:
        """A new election in ``draft``, with fresh token keys.

        :raises InvalidInputError: a malformed election, a period that has begun, a bad voting
            service URL.
        :raises ConflictError: if an election with this id exists.
        """
        now = self._clock()
        election = Election.from_json(
            {
                "election_id": body["election_id"],
                "title": body["title"],
                "choices": body["choices"],
                "districts": body["districts"],
                "election_day": body["election_day"],
                "opens_at": body["opens_at"],
                "closes_at": body["closes_at"],
                "minimum_age": body.get("minimum_age", 18),
            }
        )
        if election.opens_at.tzinfo is None or election.closes_at.tzinfo is None:
            raise InvalidInputError("opens_at and closes_at need a time zone (e.g. 2026-02-01T08:00:00+09:00)")
        if election.opens_at <= now:
            raise InvalidInputError("voting must open later: the token keys are committed on chain before")
        if not 2 <= len(election.choices) <= MAX_CHOICES:
            raise InvalidInputError(f"an election has 2 to {MAX_CHOICES} choices")
        service_url = require_str(body["voting_service_url"], "voting_service_url", max_len=1024).rstrip("/")
        self._http.check_url(service_url)
        per_district = bool(body.get("per_district", False))
        if per_district and not election.districts:
            raise InvalidInputError("per_district keys need districts")
        private = generate_token_keys(election, per_district=per_district, key_size=KEY_SIZE)
        pems = {scope or "": _pem(key) for scope, key in private.items()}
        wrapped = await self._keys.wrap(json.dumps(pems).encode(), aad=_aad(election.election_id))
        facts = {
            "per_district": per_district,
            "voting_service_url": service_url,
            "voting_service_name": body.get("voting_service_name"),
            "anchor": None,
            "token_keys": [k.to_json() for k in _public(election, private)],
            "tally": None,
        }
        row = ElectionRow(
            election.election_id, "draft", _body(election, facts), wrapped.key_id, wrapped.blob, admin.name, now, now
        )
        await self._data.add(row)
        return _view(row)

    async def list(self) -> tuple[ElectionView, ...]:
        return tuple(_view(r) for r in await self._data.list())

    async def get(self, election_id: str) -> ElectionView:
        """:raises NotFoundError: if there is no such election."""
        return _view(await self._data.get(_election_id(election_id)))

    # -- the chain commitment --------------------------------------------------------------------------

    async def commit(self, election_id: str, *, anchorer: str | None = None) -> ElectionView:
        """Deploy the election's anchor contract and commit every token key, before voting opens.

        :param anchorer: the voting service's account (``0x…``), allowed to anchor ballot batches.
        :raises ConflictError: (``election_state``) unless ``draft``; (``voting_open``) once
            voting has opened (a key committed later is refused by every device and auditor).
        :raises InvalidInputError: a malformed ``anchorer`` address.
        """
        from vcsdk.voting import BallotAnchor

        view = await self.get(election_id)
        _require(view, "draft")
        if self._clock() >= view.election.opens_at:
            raise ConflictError("voting has opened; token keys can no longer be committed", code="voting_open")
        if anchorer is not None and not _is_address(anchorer):
            raise InvalidInputError("anchorer must be an account address (0x and 40 hex digits)")
        city = await self._city.get()
        anchor = await BallotAnchor.deploy(city.chain, sender=city.owner)
        commitments = []
        for key in _public(view.election, await self._private_keys(view)):
            committed = await anchor.commit_token_key(key)
            commitments.append(
                {"district": key.district, "tx_hash": committed.tx_hash, "block_number": committed.block_number}
            )
        if anchorer is not None:
            await anchor.set_anchorer(anchorer)
        facts = dict(view.facts)
        facts["anchor"] = {
            "chain_id": int(city.chain.chain_id),
            "contract": anchor.address,
            "from_block": anchor.from_block,
            "anchorer": anchorer,
            "commitments": commitments,
        }
        return await self._move(view, "draft", "committed", facts)

    async def transition(self, election_id: str, action: Literal["open", "close"]) -> ElectionView:
        """``open`` (committed → open: credentials and tokens are issued) or ``close`` (open → closed).

        :raises ConflictError: (``election_state``) from any other state.
        """
        view = await self.get(election_id)
        before, after = _NEXT[action]
        _require(view, before)
        if action == "open" and self._clock() >= view.election.closes_at:
            raise ConflictError("the voting period is over", code="voting_closed")
        if action == "close":
            self._runtimes.pop(view.election.election_id, None)
        return await self._move(view, before, after, dict(view.facts))

    async def publish(self, election_id: str) -> ElectionView:
        """Fetch the voting service's publication, check it against the chain, keep the tally.

        :raises ConflictError: (``election_state``) unless ``closed``; (``voting_open``) while the
            voting service has not published.
        :raises ProofInvalidError: / :raises TokenKeyError: / :raises BallotTokenError: if the
            publication does not verify (nothing is kept).
        """
        from vcsdk.voting import BallotAnchor

        view = await self.get(election_id)
        _require(view, "closed")
        anchor_facts = view.facts["anchor"]
        url = f"{view.facts['voting_service_url']}/results"
        answer = await self._http.send(HttpRequest("GET", url, {"Accept": "application/json"}))
        if answer.status == 409:
            raise ConflictError("the voting service has not published its results yet", code="voting_open")
        answer.raise_for_error(what="publication")
        published = answer.json_object(what="publication")
        anchor_ref = published.get("anchor")
        if not isinstance(anchor_ref, Mapping) or str(anchor_ref.get("contract", "")).lower() != str(
            anchor_facts["contract"]
        ).lower():
            raise InvalidInputError("the publication names another anchor contract than the city committed its keys in")
        city = await self._city.get()
        anchor = BallotAnchor(city.chain, anchor_facts["contract"], from_block=int(anchor_facts["from_block"]))
        keys = _public(view.election, await self._private_keys(view))
        verified = verify_published_election(
            published,
            anchored=await anchor.anchored_roots(),
            committed_at=await anchor.token_key_commitments(list(keys)),
        )
        facts = dict(view.facts)
        facts["tally"] = {
            "counts": dict(verified.counts),
            "ballots": verified.ballots,
            "batches": verified.batches,
            "verified_at": self._clock().isoformat(),
        }
        return await self._move(view, "closed", "published", facts)

    # -- residents: eligibility credentials and ballot tokens ------------------------------------------

    async def offer(self, election_id: str, body: Mapping[str, Any], *, origin: str) -> EligibilityOutcome:
        """Check the applicant against the resident registry; if eligible, an offer of the election's
        ``VotingEligibilityCredential`` (one per resident, the ledger remembers).

        :raises ConflictError: (``election_state``) unless ``open``.
        :raises RegistryNotConfiguredError: without a resident registry.
        :raises InvalidInputError: a malformed birthdate or field.
        """
        runtime = await self.runtime(election_id, origin=origin)
        try:
            birthdate = date.fromisoformat(require_str(body["birthdate"], "birthdate", max_len=10))
        except ValueError:
            raise InvalidInputError("birthdate must be a date (YYYY-MM-DD)") from None
        application = EligibilityApplication(
            family_name=require_str(body["family_name"], "family_name", max_len=100),
            given_name=require_str(body["given_name"], "given_name", max_len=100),
            birthdate=birthdate,
            address=require_str(body["address"], "address", max_len=300),
        )
        outcome = await runtime.eligibility.offer(application, now=self._clock())
        if isinstance(outcome, NotEligible):
            return EligibilityOutcome("not_eligible", reason=outcome.reason)
        assert isinstance(outcome, EligibilityOffered)
        return EligibilityOutcome("offered", outcome.offer_uri, outcome.tx_code, outcome.district)

    async def runtime(self, election_id: str, *, origin: str) -> _Runtime:
        """The election's eligibility and token issuers (built once per open election).

        :raises NotFoundError: no such election.
        :raises ConflictError: (``election_state``) unless ``open``.
        """
        view = await self.get(election_id)
        if view.state != "open":
            self._runtimes.pop(view.election.election_id, None)
            raise ConflictError("the election is not open for credentials and ballot tokens", code="election_state")
        found = self._runtimes.get(view.election.election_id)
        if found is not None:
            return found
        async with self._lock:
            found = self._runtimes.get(view.election.election_id)
            if found is None:
                found = await self._build(view, origin)
                self._runtimes[view.election.election_id] = found
        return found

    def loaded(self, election_id: str) -> _Runtime:
        """The runtime of an open election already loaded by :meth:`runtime`.

        :raises NotFoundError: if it is not loaded.
        """
        found = self._runtimes.get(election_id)
        if found is None:
            raise NotFoundError("no open election with this id")
        return found

    async def _build(self, view: ElectionView, origin: str) -> _Runtime:
        if self._registry is None:
            raise RegistryNotConfiguredError("eligibility needs the resident registry (kyc_registry_url)")
        city = await self._city.get()
        if self._ledger is None:
            self._ledger = await self._open_ledger()
        election = view.election
        vct = self.vcts.voting_eligibility
        eligibility = EligibilityIssuer(
            election=election, registry=self._registry, issuer=city.did, signer=city.signing_key,
            credential_issuer=self.credential_issuer_url(election.election_id, origin), store=self._state,
            ledger=self._ledger, clock=self._clock, vct=vct,
        )
        tokens = BallotTokenIssuer(
            election=election, keys=await self._private_keys(view), ledger=self._ledger,
            audience=self.token_issuer_url(election.election_id, origin), resolver=city.resolver,
            issuers=[city.did], vct=vct, status=None, clock=self._clock, registry=self._registry, state=self._state,
        )
        return _Runtime(eligibility, tokens)

    async def _private_keys(self, view: ElectionView) -> dict[str | None, rsa.RSAPrivateKey]:
        row = await self._data.get(view.election.election_id)
        plain = await self._keys.unwrap(WrappedKey(row.keys_wrap_key_id, row.keys_sealed), aad=_aad(row.id))
        out: dict[str | None, rsa.RSAPrivateKey] = {}
        for scope, pem in json.loads(plain).items():
            out[scope or None] = blindrsa.load_private_key(pem.encode("ascii"))
        return out

    async def _move(self, view: ElectionView, before: str, after: str, facts: Mapping[str, Any]) -> ElectionView:
        election_id = view.election.election_id
        await self._data.update(
            election_id, expected_state=before, state=after, body=_body(view.election, facts), now=self._clock()
        )
        return await self.get(election_id)


def _public(election: Election, keys: Mapping[str | None, rsa.RSAPrivateKey]) -> list[Any]:
    from vcsdk.voting import TokenKey

    return [TokenKey(election.election_id, scope, key.public_key()) for scope, key in keys.items()]


def _pem(key: rsa.RSAPrivateKey) -> str:
    return blindrsa.private_key_to_pem(key, password=None).decode("ascii")


def _body(election: Election, facts: Mapping[str, Any]) -> str:
    return json.dumps({"election": election.to_json(), **facts}, separators=(",", ":"))


def _view(row: ElectionRow) -> ElectionView:
    body = json.loads(row.body)
    election = Election.from_json(body.pop("election"))
    return ElectionView(election, row.state, body, row.created_by, row.created_at, row.updated_at)  # type: ignore[arg-type]


def _require(view: ElectionView, state: str) -> None:
    if view.state != state:
        raise ConflictError(
            f"the election is {view.state}; this needs it {state}", code="election_state"
        )


_ELECTION_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _election_id(value: Any) -> str:
    """:raises NotFoundError: for anything that cannot be an election id (no lookup is made)."""
    if not isinstance(value, str) or _ELECTION_ID.fullmatch(value) is None:
        raise NotFoundError("no such election")
    return value


def _is_address(value: Any) -> bool:
    return (
        isinstance(value, str) and len(value) == 42 and value.startswith("0x")
        and all(c in "0123456789abcdefABCDEF" for c in value[2:])
    )
