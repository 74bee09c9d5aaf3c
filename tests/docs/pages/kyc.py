"""docs/kyc.md: the city's resident registry behind mutual TLS (the blocks define everything else).

For the client block, the local SOAP registry is served over TLS on 127.0.0.1 with a throwaway CA;
the server requires a client certificate from that CA. The CA certificate and the issuer's client
certificate and key are written into the working folder under the names the page uses
(``city-ca.pem``, ``issuer.pem``, ``issuer.key``), and ``registry_url`` is the registry's URL.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.tls_fixtures import make_ca
from vcsdk.kyc import LocalResidentRegistry


async def before(source: str, ns: dict[str, Any]) -> None:
    if "RegistryClientConfig(" in source:
        here = Path.cwd()
        ca = make_ca(here / "pki")
        shutil.copyfile(ca.ca_file, here / "city-ca.pem")
        shutil.copyfile(ca.client_cert_file, here / "issuer.pem")
        shutil.copyfile(ca.client_key_file, here / "issuer.key")
        registry = LocalResidentRegistry(ssl_context=ca.server_context(require_client_cert=True))
        await registry.start()
        ns.update(_tls_registry=registry, registry_url=registry.url)


async def teardown(ns: dict[str, Any]) -> None:
    registry = ns.get("_tls_registry")
    if registry is not None:
        await registry.stop()
        assert ns["result"].outcome == "full" and ns["result"].record.resident_id == "KG-000102"
        assert ns["status"].status == "active"
        assert registry.request_count == 2
    assert isinstance(ns.get("credential"), str), "the quick start issued no credential"
