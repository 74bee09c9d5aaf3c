"""Shared fixtures. Chain fixtures (embedded chain, anvil node) live in tests/chain_fixtures.py."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.chain_fixtures"]

# Hypothesis: deterministic in CI, no deadline (the machine has 2 shared cores; speed lives in bench/).
settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "default")
