"""Verifier-side status checking over HTTP, and a small status server for the city.

This is an adapter (aiohttp); the pure status list code lives in ``vcsdk.credentials``.
"""

from __future__ import annotations

from vcsdk.status._checker import AnchoredDigest, StatusDigestSource, StatusListChecker, StatusPolicy
from vcsdk.status._fetch import (
    FetchedStatusList,
    HttpStatusListFetcher,
    PublicAddressResolver,
    StaticStatusListSource,
    StatusListSource,
    check_status_url,
)
from vcsdk.status._server import PublishedStatusList, StatusListStore, create_status_app, status_list_routes

__all__ = [
    "AnchoredDigest",
    "FetchedStatusList",
    "HttpStatusListFetcher",
    "PublicAddressResolver",
    "PublishedStatusList",
    "StaticStatusListSource",
    "StatusDigestSource",
    "StatusListChecker",
    "StatusListSource",
    "StatusListStore",
    "StatusPolicy",
    "check_status_url",
    "create_status_app",
    "status_list_routes",
]
