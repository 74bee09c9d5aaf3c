"""docs/revocation.md: the city (DID and key on an embedded chain, which is also governance and
status publisher of a deployed trusted-issuer registry), a credential's claims and type.

For the verifier's block (the one that makes an ``HttpStatusListFetcher``), the city's status server
runs over https on 127.0.0.1 with a certificate from a throwaway CA, whose certificate is written to
``city-ca.pem`` in the working folder. The city issues a key-bound credential whose status entry
points at that server, publishes and anchors the list in the registry at ``registry_address``, and
accredits itself there for the ``vct``; ``token`` is the wallet's presentation for ``aud`` and
``nonce``, and ``resolver`` resolves the city's DID.
"""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.tls_fixtures import make_ca
from vcsdk.credentials import StatusListIssuer, disclosable_paths, issue_sd_jwt_vc, present
from vcsdk.keys import Key
from vcsdk.status import StatusListStore, status_list_routes
from vcsdk.trust import StatusDigest

sys.path.insert(0, str(Path(__file__).parent))
from _city import city_names, now, resident_claims, start_city


async def setup(ns: dict[str, Any]) -> None:
    city = await start_city()
    moment = now()
    ns.update(city_names(city), chain=city.chain, registry_address=city.trust.address, publisher_key=city.governance,
              governance_key=city.governance, now=moment, start=moment - timedelta(days=1),
              claims=resident_claims(moment), vct="https://credentials.kaga.example/ResidentIdentityCredential")


async def before(source: str, ns: dict[str, Any]) -> None:
    if "HttpStatusListFetcher(" in source:
        await _https_status_server(ns)


async def _https_status_server(ns: dict[str, Any]) -> None:
    here = Path.cwd()
    ca = make_ca(here / "pki")
    shutil.copyfile(ca.ca_file, here / "city-ca.pem")
    store = StatusListStore()
    app = web.Application()
    app.add_routes(status_list_routes(store))
    runner = web.AppRunner(app)
    await runner.setup()
    ns["_status_runner"] = runner
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ca.server_context()).start()
    port = runner.addresses[0][1]

    at, city_did, city_key, vct = ns["now"], ns["city_did"], ns["city_key"], ns["vct"]
    status_list = StatusListIssuer(f"https://127.0.0.1:{port}/lists/1")
    ns["internal_status_hosts"] = {"127.0.0.1"}  # the stand-in for the city's internal status server
    holder = Key.generate("P-256")
    credential = issue_sd_jwt_vc(
        ns["claims"], issuer=city_did, signer=city_key, vct=vct,
        disclosable=[list(p) for p in disclosable_paths("ResidentIdentityCredential")],
        holder_key=holder.public_key(), status=status_list.allocate(), now=at, expires_at=at + timedelta(days=365),
    )
    store.publish("/lists/1", status_list.publish(city_key, now=at, ttl=timedelta(minutes=5), iss=city_did),
                  max_age=300)
    trust = ns["_city"].trust
    await trust.anchor_status_digests(
        [StatusDigest(status_list.uri, status_list.digest, status_list.version + 1)], sender=ns["publisher_key"])
    await trust.accredit(city_did, vct, valid_from=ns["start"], sender=ns["governance_key"])
    aud, nonce = "https://shop.example", "n-0S6_WzA2Mj"
    ns.update(
        aud=aud, nonce=nonce, resolver=ns["_city"].resolver,
        token=present(credential, disclose=[["address", "locality"]], holder_signer=holder, audience=aud,
                      nonce=nonce, now=at),
    )


async def teardown(ns: dict[str, Any]) -> None:
    try:
        if "_status_runner" in ns:
            await ns["fetcher"].close()
            await ns["_status_runner"].cleanup()
            assert ns["verified"].claims["address"] == {"locality": "Kaga"}
    finally:
        if "_city" in ns:
            await ns["_city"].close()  # its resolver too
