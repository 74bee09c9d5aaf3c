"""vcsdk: decentralized identity and verifiable credentials for a city, its residents and services.

The front door is two recipes, :class:`City` and :class:`Service` (:mod:`vcsdk.recipes`): a city's
network wired (chain, DID resolver, registries) and a service that verifies presentations and signs
access receipts; with them :class:`~vcsdk.keys.Key`. Each capability also has its own package
(``vcsdk.credentials``, ``vcsdk.oid4vc``, ``vcsdk.receipts``, …); see ``docs/architecture.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # the type checker sees the real classes; at run time they load on first use
    from vcsdk.keys import Key
    from vcsdk.recipes import City, Service


def __getattr__(name: str) -> object:
    # Lazy, so that importing any vcsdk module does not load the chain and HTTP adapters.
    if name in ("City", "Service"):
        from vcsdk import recipes

        return getattr(recipes, name)
    if name == "Key":
        from vcsdk.keys import Key

        return Key
    raise AttributeError(f"module 'vcsdk' has no attribute {name!r}")


__all__ = ["City", "Key", "Service", "__version__"]
