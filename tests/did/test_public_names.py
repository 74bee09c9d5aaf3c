"""vcsdk.did's public names; its imports are checked with every other module's in tests/test_layers.py."""

from __future__ import annotations

import vcsdk.did


def test_public_api_is_small_and_sorted() -> None:
    assert vcsdk.did.__all__ == sorted(vcsdk.did.__all__)
    for name in vcsdk.did.__all__:
        assert getattr(vcsdk.did, name) is not None


def test_resolver_is_an_issuer_key_resolver() -> None:
    from vcsdk.credentials import IssuerKeyResolver
    from vcsdk.ethr import Resolver

    resolver: IssuerKeyResolver = Resolver([])
    assert callable(resolver.resolve_key)
