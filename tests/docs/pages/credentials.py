"""docs/credentials.md: the city (DID on an embedded chain), the resident's device key, a verifier's
nonce, and the city's status list (holding index 4711) served from memory."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from vcsdk.credentials import BitstringStatusListIssuer, StatusListIssuer, prepare_presentation, present
from vcsdk.did import did_key_for
from vcsdk.keys import Key

sys.path.insert(0, str(Path(__file__).parent))
from _city import City, city_names, now, start_city

NONCE = "n-0S6_WzA2Mj"


async def setup(ns: dict[str, Any]) -> None:
    city = await start_city()
    device = Key.generate("P-256")
    status_list = StatusListIssuer("https://city.example/status/1", size=8192, randbelow=lambda n: 4711)
    status_list.allocate()
    ns["_lists"] = {status_list.uri: status_list}
    ns.update(city_names(city), device_key=device, device_public_key=device.public_key(),
              nonce_from_the_request=NONCE, nonce_we_sent=NONCE, nonce=NONCE, aud="https://shop.example",
              paths=[["age_equal_or_over", "20"], ["address", "locality"]], now=now(),
              status_checker=city.status_checker({status_list.uri: status_list}, now=now()))


async def before(source: str, ns: dict[str, Any]) -> None:
    if "nonces=nonces" in source:
        # The wallet answers the request carrying the nonce the store just issued.
        ns["presentation"] = present(ns["credential"], disclose=ns["paths"], holder_signer=ns["device_key"],
                                     audience=ns["aud"], nonce=ns["nonce_we_sent"], now=ns["now"])
    if "finish_presentation(pending, signature_from_phone)" in source:
        # The phone signs what prepare_presentation will produce for the same inputs.
        pending = prepare_presentation(ns["credential"], disclose=ns["paths"], audience=ns["aud"],
                                       nonce=ns["nonce"], now=ns["now"])
        ns["signature_from_phone"] = ns["device_key"].sign(pending.signing_input)
    if "build_credential(" in source:
        # W3C: the holder's DID, the city's bitstring lists (published), its accreditation on chain.
        city: City = ns["_city"]
        lists = BitstringStatusListIssuer("https://city.example/bsl/r", "https://city.example/bsl/s", issuer=city.did)
        tokens = {lists.urls[p]: lists.publish(city.key, p, now=ns["now"]) for p in ("revocation", "suspension")}
        trust = city.trust
        await trust.accredit(city.did, "ResidentIdentityCredential", valid_from=ns["now"] - timedelta(days=1),
                             sender=city.governance)
        ns.update(holder_did=did_key_for(ns["device_key"]), bitstring_lists=lists, trust=trust,
                  city_public_key=city.key.public_key(), resolver=city.resolver,
                  status_checker=city.status_checker(ns["_lists"], now=ns["now"], tokens=tokens))


async def teardown(ns: dict[str, Any]) -> None:
    if "_city" in ns:
        await ns["_city"].close()  # its resolver too
