"""Settings: defaults, TOML file < environment < flags, dev keys, production key requirements."""

from __future__ import annotations

import argparse
import json
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from vcsdk._b64 import b64url_encode
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key
from wallet_server.ratelimit import RateLimit
from wallet_server.settings import Settings, add_arguments, load_settings

DATA_KEY = b64url_encode(b"\x07" * 32)
SIGNING = json.dumps(Key.generate("P-256").private_jwk())
DIGEST = "a" * 64


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_defaults_are_sqlite_and_the_embedded_chain() -> None:
    s = Settings()
    assert s.database_url.startswith("sqlite:///") and s.rpc_url is None
    assert s.host == "127.0.0.1"


def test_precedence_file_then_env_then_flags(tmp_path: Path) -> None:
    config = tmp_path / "wallet.toml"
    config.write_text(
        f'''
database_url = "postgresql://file@127.0.0.1/test"
port = 9000
issuer = "from-file"
cors_origins = ["https://a.example"]
token_signing_keys = ['{SIGNING}']
data_keys = {{ k7 = "{DATA_KEY}" }}
admin_tokens = [{{ name = "ops", sha256 = "{DIGEST}", roles = ["operator"] }}]
ip_rate_limit = {{ rate = 3, burst = 9 }}
access_token_ttl = 120
'''
    )
    env = {"VCSDK_WALLET_PORT": "9100", "VCSDK_WALLET_ISSUER": "from-env"}
    s = load_settings(parse("--config", str(config), "--port", "9200"), env)
    assert s.port == 9200 and s.issuer == "from-env"
    assert s.database_url == "postgresql://file@127.0.0.1/test"
    assert s.cors_origins == ("https://a.example",)
    assert s.current_data_key == "k7" and dict(s.data_keys)["k7"] == b"\x07" * 32
    assert s.admin_tokens[0].roles == frozenset({"operator"})
    assert s.ip_rate_limit == RateLimit(3.0, 9) and s.access_token_ttl == timedelta(seconds=120)


def test_development_switches_are_flags_too(tmp_path: Path) -> None:
    """allow_loopback_http and mine_to_confirm were settable only through the environment."""
    db = f"sqlite:///{tmp_path / 'w.db'}"
    off = load_settings(parse("--database", db), {})
    assert not off.allow_loopback_http and not off.mine_to_confirm
    on = load_settings(parse("--database", db, "--allow-loopback-http", "--mine-to-confirm"), {})
    assert on.allow_loopback_http and on.mine_to_confirm
    env = load_settings(parse("--database", db), {"VCSDK_WALLET_MINE_TO_CONFIRM": "1"})
    assert env.mine_to_confirm


def test_environment_formats() -> None:
    env = {
        "VCSDK_WALLET_DATABASE_URL": "postgresql://x@127.0.0.1/test",
        "VCSDK_WALLET_DATA_KEYS": f"new:{DATA_KEY},old:{b64url_encode(bytes(32))}",
        "VCSDK_WALLET_TOKEN_SIGNING_KEYS": SIGNING,
        "VCSDK_WALLET_ADMIN_TOKENS": f"ops:{DIGEST}:operator+issuer",
        "VCSDK_WALLET_CORS_ORIGINS": "https://a.example,https://b.example",
        "VCSDK_WALLET_DEVICE_RATE_LIMIT": "2/10",
    }
    s = load_settings(None, env)
    assert s.current_data_key == "new" and len(s.data_keys) == 2
    assert s.admin_tokens[0].roles == frozenset({"operator", "issuer"})
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.device_rate_limit == RateLimit(2.0, 10)


def test_repr_shows_no_secrets() -> None:
    s = load_settings(
        None,
        {
            "VCSDK_WALLET_DATABASE_URL": "postgresql://x@127.0.0.1/test",
            "VCSDK_WALLET_DATA_KEYS": f"k:{DATA_KEY}",
            "VCSDK_WALLET_TOKEN_SIGNING_KEYS": SIGNING,
            "VCSDK_WALLET_ADMIN_TOKENS": f"ops:{DIGEST}:operator",
        },
    )
    text = repr(s)
    assert DIGEST not in text and "\\x07" not in text and json.loads(SIGNING)["d"] not in text


def test_postgres_needs_configured_keys() -> None:
    with pytest.raises(InvalidInputError, match="token_signing_keys and data_keys"):
        load_settings(parse("--database", "postgresql://x@127.0.0.1/test"), {})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VCSDK_WALLET_DATA_KEYS", "k:c2hvcnQ"),
        ("VCSDK_WALLET_ADMIN_TOKENS", "ops:nothex:operator"),
        ("VCSDK_WALLET_ADMIN_TOKENS", f"ops:{DIGEST}:root"),
        ("VCSDK_WALLET_PORT", "eighty"),
        ("VCSDK_WALLET_TOKEN_SIGNING_KEYS", json.dumps(Key.generate("P-256").public_jwk())),
    ],
)
def test_malformed_values_are_refused(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(InvalidInputError):
        load_settings(parse("--database", f"sqlite:///{tmp_path / 'w.db'}"), {name: value})


def test_unknown_file_settings_and_bad_toml_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "wallet.toml"
    config.write_text('databse_url = "typo"\n')
    with pytest.raises(InvalidInputError, match="unknown settings"):
        load_settings(parse("--config", str(config)), {})
    config.write_text("port = = 1\n")
    with pytest.raises(InvalidInputError, match="TOML"):
        load_settings(parse("--config", str(config)), {})


def test_sqlite_development_keys_are_generated_once(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    first = load_settings(parse("--database", f"sqlite:///{db}"), {})
    keys_file = Path(f"{db}.keys.json")
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    again = load_settings(parse("--database", f"sqlite:///{db}"), {})
    assert first.token_signing_keys == again.token_signing_keys and first.data_keys == again.data_keys
    assert "dev_admin_token" in json.loads(keys_file.read_text())


def test_a_process_that_loses_the_race_for_the_development_keys_uses_the_winners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Instances started at once on one SQLite file: one that found no keys file, then made its keys
    while another wrote the file, keeps the file as it is and uses its keys."""
    db = tmp_path / "w.db"
    winner = load_settings(parse("--database", f"sqlite:///{db}"), {})
    keys_file = Path(f"{db}.keys.json")
    written = keys_file.read_bytes()
    monkeypatch.setattr(Path, "exists", lambda self: False)  # it looked before the winner wrote
    loser = load_settings(parse("--database", f"sqlite:///{db}"), {})
    monkeypatch.undo()
    assert keys_file.read_bytes() == written
    assert loser.token_signing_keys == winner.token_signing_keys and loser.data_keys == winner.data_keys
    assert loser.city_signing_key == winner.city_signing_key and loser.admin_tokens == winner.admin_tokens
    assert [f.name for f in tmp_path.iterdir()] == ["w.db.keys.json"]  # no temporary file left


def test_sso_settings_from_the_environment() -> None:
    base = {
        "VCSDK_WALLET_DATABASE_URL": "postgresql://x@127.0.0.1/test",
        "VCSDK_WALLET_DATA_KEYS": f"k:{DATA_KEY}",
        "VCSDK_WALLET_TOKEN_SIGNING_KEYS": SIGNING,
        "VCSDK_WALLET_ADMIN_TOKENS": f"ops:{DIGEST}:operator",
    }
    secret = bytes(range(32))
    s = load_settings(None, {**base, "VCSDK_WALLET_SSO_SUBJECT_SECRET": b64url_encode(secret),
                             "VCSDK_WALLET_SSO_LOGIN_TTL": "120"})
    assert s.sso_subject_secret == secret and s.sso_login_ttl == timedelta(seconds=120)
    assert b64url_encode(secret) not in repr(s)
    with pytest.raises(InvalidInputError):  # 32 bytes at least
        load_settings(None, {**base, "VCSDK_WALLET_SSO_SUBJECT_SECRET": b64url_encode(b"short")})


def test_admin_token_names_are_distinct(tmp_path: Path) -> None:
    """An admin token's name is its identity (Idempotency-Key answers are kept per name): two tokens
    sharing one would replay each other's enrolment codes and client secrets."""
    env = {"VCSDK_WALLET_ADMIN_TOKENS": f"ops:{DIGEST}:operator,ops:{'b' * 64}:issuer"}
    with pytest.raises(InvalidInputError, match="own non-empty"):
        load_settings(None, env)
    with pytest.raises(InvalidInputError, match="own non-empty"):
        load_settings(None, {"VCSDK_WALLET_ADMIN_TOKENS": f":{DIGEST}:operator"})
    two = load_settings(None, {
        "VCSDK_WALLET_ADMIN_TOKENS": f"ops:{DIGEST}:operator,issuing:{'b' * 64}:issuer",
        "VCSDK_WALLET_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",  # its dev keys file goes beside it
    })
    assert [t.name for t in two.admin_tokens] == ["ops", "issuing"]
