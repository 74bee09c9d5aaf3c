"""``wallet_server``: the aiohttp backend of the city's wallet app.

Start it with ``python -m wallet_server`` or ``vcsdk serve``; embed it with :func:`create_app`.
"""

from __future__ import annotations

from wallet_server.app import create_app
from wallet_server.settings import Settings, load_settings

__all__ = ["Settings", "create_app", "load_settings"]
