"""Ballot-token benchmark: tokens issued and ballots verified per second, next to raw RSA-PSS.

Measured in one run, on the same 2048-bit key:

- tokens issued: the city's whole ``BallotTokenIssuer.issue`` for distinct residents — the
  eligibility presentation verified (ES256 issuer signature, Disclosures, KB-JWT), the election's
  rules, the ledger lookup and claim (SQLite, one transaction), the blind signature
  (``gmpy2.powmod_sec`` with base blinding and the ``s^e mod n == m`` check); and, alone, the blind
  signature ``blind_sign``;
- ballots verified: ``verify_ballot_token`` (the voting service's and the auditor's check: the
  token message rebuilt, RSASSA-PSS verification by ``cryptography``).

The floor is ``cryptography``'s own RSA-PSS (SHA-384, salt 48) ``sign`` and ``verify`` with the
same key. Ratios are vcsdk / floor (1.0 = the floor itself). The last line is
``issue_vs_rsa_pss_sign=<ratio> blind_sign_vs_rsa_pss_sign=<ratio> verify_vs_rsa_pss_verify=<ratio>``.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from vcsdk.blindrsa import blind_sign
from vcsdk.credentials import StaticKeyResolver, issue_sd_jwt_vc, present
from vcsdk.keys import Key
from vcsdk.voting import (
    ELIGIBILITY_CLAIMS,
    BallotTokenIssuer,
    CommittedTokenKey,
    DistrictRule,
    Election,
    SqliteIssuanceLedger,
    begin_token,
    finish_token,
    generate_token_keys,
    verify_ballot_token,
)
from vcsdk.voting._issuer import credential_digest

#: VCSDK_BENCH_QUICK=1: a few short rounds, for the test that keeps the benchmarks running.
QUICK = os.environ.get("VCSDK_BENCH_QUICK") == "1"
CITY = "did:example:tsukuba-city"
VCT = "https://credentials.example/VotingEligibilityCredential"
AUDIENCE = "https://city.example/voting/tokens"
NOW = datetime.now(UTC)
ELECTION = Election(
    election_id="bench-2026", title="Benchmark election", choices=("A", "B"),
    districts=(DistrictRule("d1", city="つくば市"),), election_day=date(2026, 2, 1),
    opens_at=NOW + timedelta(hours=1), closes_at=NOW + timedelta(days=1),
)
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=48)


def _batch(fn: Callable[[], object], seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(5):
            fn()
        count += 5
        now = time.perf_counter()
        if now - start >= seconds:
            return count / (now - start)


def rates(*fns: Callable[[], object], rounds: int = 2 if QUICK else 8, seconds: float = 0.02 if QUICK else 0.25
          ) -> list[float]:
    """Operations per second for each function: the best of ``rounds`` batches, interleaved."""
    for fn in fns:
        fn()
    best = [0.0] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            best[i] = max(best[i], _batch(fn, seconds))
    return best


async def _issue_rate(issuer: BallotTokenIssuer, ledger: SqliteIssuanceLedger, city_key: Key,
                      pending_blinded: bytes) -> float:
    """Full issuance for distinct residents, each with its own credential, nonce and presentation."""
    count = 20 if QUICK else 200
    requests: list[tuple[str, str]] = []
    for i in range(count):
        holder = Key.generate("P-256")
        claims = {"election_id": ELECTION.election_id, "eligible": True, "district": "d1", "age_over_18": True}
        vc = issue_sd_jwt_vc(claims, issuer=CITY, signer=city_key, vct=VCT, disclosable=[[k] for k in claims],
                             holder_key=holder, now=NOW)
        await ledger.record_credential(ELECTION.election_id, f"R-{i}",
                                       credential_digest=credential_digest(vc, ELECTION.election_id),
                                       status_index=None)
        nonce, _ = await issuer.nonce(now=NOW)
        vp = present(vc, disclose=ELIGIBILITY_CLAIMS, holder_signer=holder, audience=AUDIENCE, nonce=nonce, now=NOW)
        requests.append((vp, nonce))
    start = time.perf_counter()
    for vp, nonce in requests:
        await issuer.issue(vp, nonce=nonce, blinded_msg=pending_blinded, now=NOW)
    return count / (time.perf_counter() - start)


async def amain() -> None:
    keys = generate_token_keys(ELECTION)
    private = keys[None]
    public = private.public_key()
    city_key = Key.generate("P-256").with_kid(f"{CITY}#key-1")
    with tempfile.TemporaryDirectory() as folder:
        ledger = await SqliteIssuanceLedger.open(str(Path(folder) / "ledger.db"))
        try:
            issuer = BallotTokenIssuer(
                election=ELECTION, keys=keys, ledger=ledger, audience=AUDIENCE,
                resolver=StaticKeyResolver({CITY: city_key}), issuers=[CITY], vct=VCT, status=None,
                clock=lambda: NOW,
            )
            key = issuer.token_keys[None]
            committed = CommittedTokenKey(key.slot, key.digest, 1, ELECTION.opens_at)
            pending = begin_token(key, election=ELECTION, district=None, committed=committed)
            issued = await _issue_rate(issuer, ledger, city_key, pending.blinded_msg)
        finally:
            await ledger.close()
    token = finish_token(pending, blind_sign(private, pending.blinded_msg))
    keyed: dict[str | None, Any] = {None: key}
    message = token.input_msg
    signature = private.sign(message, PSS, hashes.SHA384())

    raw_sign, ours_sign, raw_verify, ours_verify = rates(
        lambda: private.sign(message, PSS, hashes.SHA384()),
        lambda: blind_sign(private, pending.blinded_msg),
        lambda: public.verify(signature, message, PSS, hashes.SHA384()),
        lambda: verify_ballot_token(token, election_id=ELECTION.election_id, keys=keyed),
    )
    print("RSA-2048, RSABSSA-SHA384-PSS-Randomized; operations per second (higher is better)")
    print(f"  cryptography RSA-PSS sign      {raw_sign:10.1f}")
    print(f"  blind_sign (powmod_sec)        {ours_sign:10.1f}   x{ours_sign / raw_sign:.2f} of sign")
    print(f"  tokens issued (full issue)     {issued:10.1f}   x{issued / raw_sign:.2f} of sign")
    print(f"  cryptography RSA-PSS verify    {raw_verify:10.1f}")
    print(f"  ballots verified (token check) {ours_verify:10.1f}   x{ours_verify / raw_verify:.2f} of verify")
    print(f"issue_vs_rsa_pss_sign={issued / raw_sign:.3f} blind_sign_vs_rsa_pss_sign={ours_sign / raw_sign:.3f} "
          f"verify_vs_rsa_pss_verify={ours_verify / raw_verify:.3f}")


if __name__ == "__main__":
    asyncio.run(amain())
