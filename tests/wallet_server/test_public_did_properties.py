"""Property: the DID endpoint's service answers any text with a resolution result or an SDK error
that maps to a 4xx — never another exception (which would be a 500)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vcsdk.errors import VcsdkError
from wallet_server.chain import LazyChain
from wallet_server.services.city import CitySetup
from wallet_server.services.public import PublicService


@pytest.fixture(scope="module")
def resolving() -> Iterator[tuple[asyncio.AbstractEventLoop, PublicService]]:
    loop = asyncio.new_event_loop()
    chain = LazyChain(None)
    city = CitySetup(chain, embedded=True, city_key=None, signing_key=None, network_config=None, accredit_types=())
    loop.run_until_complete(city.get())
    try:
        yield loop, PublicService(city=city)
    finally:
        loop.run_until_complete(city.close())
        loop.run_until_complete(chain.close())
        loop.close()


DID_LIKE = st.one_of(
    st.text(max_size=80),
    st.builds(lambda m, rest: f"did:{m}:{rest}", st.sampled_from(["ethr", "key", "jwk", "web", "x"]),
              st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=70)),
    st.builds(lambda rest: f"did:ethr:{rest}", st.from_regex(r"(0x[0-9a-fA-F]{1,6}:)?0x[0-9a-fA-F]{38,42}(\?.*)?",
                                                              fullmatch=True)),
)


@settings(max_examples=150, deadline=None)
@given(did=DID_LIKE)
@example(did="did:ethr:0x1:0x1111111111111111111111111111111111111111?versionId=99999999")
@example(did="did:ethr:0x1111111111111111111111111111111111111111?versionTime=nope")
@example(did="did:jwk:eyJrdHkiOiJFQyJ9")
@example(did="did:key:z6Mk")
def test_any_text_resolves_or_is_a_client_error(resolving, did: str) -> None:  # type: ignore[no-untyped-def]
    loop, public = resolving
    try:
        result, _ = loop.run_until_complete(public.resolve(did))
    except VcsdkError as exc:
        assert exc.http_status < 500 or exc.code in ("unknown_network",), (did, exc.code)
    else:
        assert set(result) == {"didResolutionMetadata", "didDocument", "didDocumentMetadata"}
