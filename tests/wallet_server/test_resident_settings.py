"""The resident-side settings load from the environment and a TOML file, with safe defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from vcsdk.errors import InvalidInputError
from wallet_server.settings import Settings, load_settings


def test_defaults_are_the_safe_ones() -> None:
    settings = Settings()
    assert settings.custodial_keys is False and settings.allow_loopback_http is False
    assert settings.outgoing_private_hosts == ()
    assert settings.receipt_confirmations == 12 and settings.receipt_batch_size == 256


def test_environment_and_file(tmp_path: Path) -> None:
    env = {
        "VCSDK_WALLET_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
        "VCSDK_WALLET_CUSTODIAL_KEYS": "true",
        "VCSDK_WALLET_RECEIPT_ANCHOR_INTERVAL": "5",
        "VCSDK_WALLET_RECEIPT_BATCH_SIZE": "64",
        "VCSDK_WALLET_OUTGOING_PRIVATE_HOSTS": "issuer.city.internal,status.city.internal",
    }
    settings = load_settings(None, env)
    assert settings.custodial_keys is True and settings.allow_loopback_http is False
    assert settings.outgoing_private_hosts == ("issuer.city.internal", "status.city.internal")
    assert settings.receipt_anchor_interval == timedelta(seconds=5) and settings.receipt_batch_size == 64
    config = tmp_path / "wallet.toml"
    database = f'database_url = "sqlite:///{tmp_path / "w.db"}"\n'
    config.write_text(
        database
        + 'allow_loopback_http = true\nconsent_ttl = 86400\noutgoing_private_hosts = ["issuer.city.internal"]\n'
    )
    settings = load_settings(None, {"VCSDK_WALLET_CONFIG": str(config)})
    assert settings.allow_loopback_http is True and settings.consent_ttl == timedelta(days=1)
    assert settings.outgoing_private_hosts == ("issuer.city.internal",)
    with pytest.raises(InvalidInputError):
        load_settings(None, {**env, "VCSDK_WALLET_CUSTODIAL_KEYS": "maybe"})
