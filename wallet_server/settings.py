"""Server settings: one frozen dataclass, loaded only by the entry point (file, environment, flags).

Library code never reads the environment; :func:`load_settings` takes the environment as an
argument so the entry point is the one place that passes ``os.environ``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from vcsdk.encoding import b64url_decode, b64url_encode
from vcsdk.errors import InvalidInputError
from vcsdk.keys import Key
from wallet_server.ratelimit import RateLimit
from wallet_server.services.admin import AdminRole, AdminToken

__all__ = ["ENV_PREFIX", "Settings", "add_arguments", "load_settings"]

ENV_PREFIX = "VCSDK_WALLET_"
log = logging.getLogger("wallet_server.settings")
_IP_LIMIT = RateLimit(rate=20.0, burst=100)
_DEVICE_LIMIT = RateLimit(rate=5.0, burst=30)


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the server is configured with. ``repr`` never shows keys or token digests.

    :param database_url: ``sqlite:///file.db`` (default) or ``postgresql://user@host/db``.
    :param database_schema: PostgreSQL schema for the tables (default: the user's search path).
    :param rpc_url: an Ethereum JSON-RPC endpoint; ``None`` uses the embedded in-process chain.
    :param issuer: ``iss``/``aud`` of access tokens and the ``aud`` of login assertions.
    :param public_base_url: the URL clients use (``https://wallet.city.example``); DPoP ``htu`` is
        checked against it. ``None`` takes scheme and host from each request (development).
    :param token_signing_keys: private P-256 keys; the first signs access tokens, all verify.
    :param data_keys: server keys (id → 32 bytes) that wrap residents' data keys.
    :param current_data_key: the id in ``data_keys`` new data keys are wrapped with.
    :param admin_tokens: city admin credentials (SHA-256 of each token, and roles).
    :param cors_origins: origins of the app allowed to call the API from a browser.
    :param redis_prefix: namespaces the rate-limit keys in Redis (one per deployment).
    :param forwarded_for_header: a header the load balancer sets to the client address
        (its last entry is used); ``None`` uses the socket peer.
    :param city_key: the city's private secp256k1 key: owner of its did:ethr, governance of the
        trusted-issuer registry, the account that anchors status-list digests. ``None`` on the
        embedded chain uses its first dev account; required with ``rpc_url``.
    :param city_signing_key: the city's private P-256 key, published on its DID as a Multikey; signs
        credentials (ES256) and status lists. ``None`` generates one per start (development only).
    :param network_config: the JSON file ``vcsdk deploy`` wrote (contract addresses); required with
        ``rpc_url``, ignored on the embedded chain (which deploys the contracts at start).
    :param kyc_registry_url: the SOAP endpoint of the city's resident registry.
    :param kyc_registry_ca_file: PEM bundle of the CAs that may sign the registry's TLS certificate
        (a city's private CA); the system store when ``None``.
    :param kyc_registry_client_cert_file: PEM client certificate, when the registry asks for mutual TLS.
    :param kyc_registry_client_key_file: its PEM private key (if not in the certificate file).
    :param vct_base: the city's credential type base URL (``https://credentials.city.example``).
    :param city_name: the issuer's display name in OpenID4VCI metadata.
    :param status_list_size: entries per status list (a new list starts when one is full).
    :param status_list_ttl: status list cache lifetime (``ttl`` and ``max-age``); tokens are re-signed
        when older.
    :param credential_lifetime: validity of issued credentials.
    :param offer_ttl: how long a credential offer (and its pre-authorized code) stays redeemable.
    :param allow_loopback_http: development and tests only: let the server call issuers and services
        at ``http://127.0.0.1`` / ``localhost`` (otherwise only https to public hosts).
    :param outgoing_private_hosts: host names the server may call for residents although they
        resolve to private addresses (the city's own issuer reached through split-horizon DNS);
        every other name resolving to a private, loopback or link-local address is refused.
    :param custodial_keys: the custodial option, **off by default**: the server makes and holds a
        device key for residents whose app cannot keep one, and signs key proofs and presentations
        itself when the app asks. Credentials accepted this way are bound to that server key.
    :param presentation_ttl: how long a started presentation can be consented to and signed.
    :param consent_ttl: how long a consent the resident gives lasts.
    :param receipt_batch_size: anchor access receipts in Merkle batches of this many…
    :param receipt_batch_max_age: …or once the oldest queued receipt waited this long.
    :param receipt_confirmations: blocks (the anchoring block included) before a batch is final.
    :param receipt_anchor_interval: how often the anchoring task runs.
    :param mine_to_confirm: development only: the chain node makes blocks only on demand (anvil's
        default), so the server mines the empty blocks receipt batches need for
        ``receipt_confirmations``; a production node refuses this (it has no ``evm_mine``).
    :param workers: server processes sharing the port (each with its own pool and tasks).
    :param event_loop: ``uvloop`` (the default: libuv's event loop, about a tenth less CPU per
        request here) or ``asyncio`` (the standard library's).
    :param database_timeout: seconds one PostgreSQL statement may take (then ``503``).
    :param database_pool_timeout: seconds a request may wait for a free PostgreSQL connection.
    :param database_pool_size: PostgreSQL connections per process.
    :param redis_timeout: seconds a Redis call may take before rate limiting lets the request through.
    :param open_data_budget: the privacy-loss budget (epsilon) each month's open-data releases may
        spend in all; the release that would pass it is refused.
    :param registration_validity: how long a service registration the city signs lasts by default.
    :param web_connect_origins: origins the web pages may call besides this server (their
        Content-Security-Policy ``connect-src``): the ballot page's voting service, the city's
        ballot-token issuer and a chain node, e.g. ``https://vote.city.example``. None by default.
    :param web_rpc_url: the public JSON-RPC endpoint the ballot page reads token-key commitments
        and ballot batch roots from (its origin belongs in ``web_connect_origins``); put in the
        election's ballot-page link. None by default (the resident enters one on the page).
    :param sso_subject_secret: the OpenID Provider's secret for pairwise ``sub`` values (32 bytes or
        more, base64url in files); changing it changes every resident's ``sub`` at every service.
        ``None`` derives it from the first data key (HKDF), which is then not to be removed.
    :param sso_login_ttl: how long a login page's request can be answered by the wallet.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = "sqlite:///wallet.sqlite3"
    database_schema: str | None = None
    rpc_url: str | None = None
    issuer: str = "vcsdk-wallet"
    public_base_url: str | None = None
    token_signing_keys: tuple[Key, ...] = field(default=(), repr=False)
    data_keys: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)
    current_data_key: str = ""
    admin_tokens: tuple[AdminToken, ...] = field(default=(), repr=False)
    cors_origins: tuple[str, ...] = ()
    client_max_size: int = 256 * 1024
    ip_rate_limit: RateLimit = _IP_LIMIT
    device_rate_limit: RateLimit = _DEVICE_LIMIT
    redis_url: str | None = None
    redis_prefix: str = "wallet:rl"
    forwarded_for_header: str | None = None
    access_token_ttl: timedelta = timedelta(minutes=5)
    refresh_token_ttl: timedelta = timedelta(days=30)
    challenge_ttl: timedelta = timedelta(minutes=2)
    dpop_max_age: timedelta = timedelta(seconds=60)
    enrolment_code_ttl: timedelta = timedelta(hours=72)
    max_devices: int = 10
    log_level: str = "INFO"
    # -- the city back office (issuance, status lists, trust, public endpoints)
    city_key: Key | None = field(default=None, repr=False)
    city_signing_key: Key | None = field(default=None, repr=False)
    network_config: str | None = None
    kyc_registry_url: str | None = None
    kyc_registry_ca_file: str | None = None
    kyc_registry_client_cert_file: str | None = None
    kyc_registry_client_key_file: str | None = None
    vct_base: str | None = None
    city_name: str = "City"
    status_list_size: int = 1 << 20
    status_list_ttl: timedelta = timedelta(minutes=5)
    credential_lifetime: timedelta = timedelta(days=365)
    offer_ttl: timedelta = timedelta(hours=24)
    # -- the resident side (offers inbox, presentations, consents, receipts)
    allow_loopback_http: bool = False
    outgoing_private_hosts: tuple[str, ...] = ()
    custodial_keys: bool = False
    presentation_ttl: timedelta = timedelta(minutes=10)
    consent_ttl: timedelta = timedelta(days=365)
    receipt_batch_size: int = 256
    receipt_batch_max_age: timedelta = timedelta(minutes=5)
    receipt_confirmations: int = 12
    receipt_anchor_interval: timedelta = timedelta(seconds=30)
    mine_to_confirm: bool = False
    # -- processes and bounded waits
    workers: int = 1
    event_loop: str = "uvloop"
    database_timeout: timedelta = timedelta(seconds=5)
    database_pool_timeout: timedelta = timedelta(seconds=5)
    database_pool_size: int = 10
    redis_timeout: timedelta = timedelta(milliseconds=250)

    # -- the city's registered services and open data
    open_data_budget: float = 1.0
    registration_validity: timedelta = timedelta(days=365)
    web_connect_origins: tuple[str, ...] = ()
    web_rpc_url: str | None = None
    # -- single sign-on (the city's OpenID Provider)
    sso_subject_secret: bytes | None = field(default=None, repr=False)
    sso_login_ttl: timedelta = timedelta(minutes=5)

    def __post_init__(self) -> None:
        if self.event_loop not in ("uvloop", "asyncio"):
            raise InvalidInputError("event_loop must be uvloop or asyncio")
        if self.workers < 1 or self.database_pool_size < 1:
            raise InvalidInputError("workers and database_pool_size must be at least 1")
        if min(self.database_timeout, self.database_pool_timeout, self.redis_timeout) <= timedelta(0):
            raise InvalidInputError("database_timeout, database_pool_timeout and redis_timeout must be positive")
        names = [t.name for t in self.admin_tokens]
        if len(set(names)) != len(names) or any(not n or not n.isprintable() for n in names):
            # The name is the admin's identity: Idempotency-Key answers (enrolment codes, client
            # secrets) are kept per name, and the audit trail names it. Two tokens must not share one.
            raise InvalidInputError("each admin token needs its own non-empty, printable name")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line flags of ``python -m wallet_server`` and ``vcsdk serve``."""
    parser.add_argument("--config", type=Path, help="a TOML settings file")
    parser.add_argument("--database", dest="database_url", help="sqlite:///file.db or postgresql://user@host/db")
    parser.add_argument("--database-schema", help="PostgreSQL schema for the tables")
    parser.add_argument("--rpc-url", help="Ethereum JSON-RPC endpoint (default: the embedded chain)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    parser.add_argument("--workers", type=int, help="server processes sharing the port (default 1)")
    parser.add_argument("--event-loop", choices=("uvloop", "asyncio"), help="the event loop (default uvloop)")
    parser.add_argument("--public-base-url", help="the URL clients use, e.g. https://wallet.city.example")
    parser.add_argument("--redis-url", help="share rate limits through Redis, e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--cors-origin", action="append", dest="cors_origins", help="allowed app origin (repeat)")
    parser.add_argument("--network-config", help="the network.json vcsdk deploy wrote (needed with --rpc-url)")
    parser.add_argument("--kyc-registry-url", help="SOAP endpoint of the city's resident registry")
    parser.add_argument("--kyc-registry-ca-file", help="PEM CA bundle for the registry's TLS certificate")
    parser.add_argument("--kyc-registry-client-cert-file", help="PEM client certificate for mutual TLS")
    parser.add_argument("--kyc-registry-client-key-file", help="PEM private key of the client certificate")
    parser.add_argument("--keys-file", type=Path, help="development keys file (made if missing); SQLite only")
    parser.add_argument("--allow-loopback-http", action="store_true", default=None,
                        help="development only: call issuers and services at http://127.0.0.1 / localhost")
    parser.add_argument("--mine-to-confirm", action="store_true", default=None,
                        help="development only: mine the blocks receipts need for their confirmations "
                        "(a dev node that mines only on demand, such as anvil)")
    parser.add_argument(
        "--rewrap-keys",
        action="store_true",
        help="re-wrap residents' data keys under the current data key, then exit (after a key rotation)",
    )


def _parse_data_keys(value: Any) -> tuple[tuple[str, bytes], ...]:
    # "id:base64url,id2:base64url" (env) or {"id": "base64url"} (file); the first is current.
    items = value.items() if isinstance(value, Mapping) else (p.split(":", 1) for p in str(value).split(",") if p)
    out = []
    for kid, text in items:
        key = b64url_decode(str(text).strip(), what="data key")
        if len(key) != 32:
            raise InvalidInputError("each data key must be 32 bytes, base64url encoded")
        out.append((str(kid).strip(), key))
    return tuple(out)


def _parse_admin_tokens(value: Any) -> tuple[AdminToken, ...]:
    # "name:sha256hex:role+role,…" (env) or [{"name", "sha256", "roles"}] (file)
    entries: list[tuple[str, str, list[str]]] = []
    if isinstance(value, list):
        entries = [(str(e["name"]), str(e["sha256"]), [str(r) for r in e["roles"]]) for e in value]
    else:
        for part in str(value).split(","):
            if part:
                name, digest, role_text = part.split(":", 2)
                entries.append((name, digest, role_text.split("+")))
    out = []
    for name, digest, roles in entries:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise InvalidInputError("admin token sha256 must be 64 lowercase hex digits")
        if not roles or any(r not in ("issuer", "operator") for r in roles):
            raise InvalidInputError("admin token roles must be issuer and/or operator")
        out.append(AdminToken(name, digest, frozenset(cast(list[AdminRole], roles))))
    return tuple(out)


def _parse_signing_keys(value: Any) -> tuple[Key, ...]:
    raw = value if isinstance(value, list) else [value]
    keys = tuple(Key.from_jwk(v if isinstance(v, dict) else json.loads(v)) for v in raw)
    if any(not k.is_private or k.curve != "P-256" for k in keys):
        raise InvalidInputError("token signing keys must be private P-256 JWKs")
    return keys


def _parse_city_key(name: str, value: Any) -> Key:
    key = Key.from_jwk(value if isinstance(value, dict) else json.loads(value))
    curve = "secp256k1" if name == "city_key" else "P-256"
    if not key.is_private or key.curve != curve:
        raise InvalidInputError(f"{name} must be a private {curve} JWK")
    return key


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("not a boolean")


def _coerce(name: str, value: Any) -> Any:
    if name in ("allow_loopback_http", "custodial_keys", "mine_to_confirm"):
        return _parse_bool(value)
    if name in ("receipt_batch_size", "receipt_confirmations"):
        return int(value)
    if name == "open_data_budget":
        return float(value)
    if name in ("receipt_batch_max_age", "receipt_anchor_interval", "registration_validity"):
        return timedelta(seconds=float(value))
    if name in ("database_timeout", "database_pool_timeout", "redis_timeout"):
        return timedelta(seconds=float(value))
    if name in ("port", "client_max_size", "max_devices", "status_list_size", "workers", "database_pool_size"):
        return int(value)
    if name in ("city_key", "city_signing_key"):
        return _parse_city_key(name, value)
    if name == "credential_lifetime":
        return timedelta(seconds=float(value))
    if name in ("cors_origins", "outgoing_private_hosts", "web_connect_origins"):
        return tuple(value) if isinstance(value, list) else tuple(o for o in str(value).split(",") if o)
    if name == "data_keys":
        return _parse_data_keys(value)
    if name == "sso_subject_secret":
        secret = b64url_decode(str(value), what="sso_subject_secret")
        if len(secret) < 32:
            raise ValueError("sso_subject_secret must be at least 32 bytes, base64url")
        return secret
    if name == "admin_tokens":
        return _parse_admin_tokens(value)
    if name == "token_signing_keys":
        return _parse_signing_keys(value)
    if name in ("ip_rate_limit", "device_rate_limit"):
        rate, burst = (value["rate"], value["burst"]) if isinstance(value, Mapping) else str(value).split("/")
        return RateLimit(float(rate), int(burst))
    if name.endswith("_ttl") or name == "dpop_max_age":
        return timedelta(seconds=float(value))
    return None if value == "" else str(value)


_FIELDS = [f for f in Settings.__dataclass_fields__ if f != "current_data_key"]


def _dev_keys(path: Path) -> dict[str, Any]:
    """Development only: keep generated keys in a 0600 file next to the SQLite database.

    Processes starting together on one database (instances on one host) must end up with the same
    keys: the file appears whole or not at all (written and synced under a temporary name, then
    hard-linked to its name, which fails if it exists), and a process that loses the race reads the
    winner's keys.
    """
    if path.exists():
        loaded: dict[str, Any] = json.loads(path.read_text())
        return loaded
    admin_token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(admin_token.encode()).hexdigest()
    data = {
        "token_signing_keys": [Key.generate("P-256").private_jwk()],
        "data_keys": {"dev-1": b64url_encode(os.urandom(32))},
        "admin_tokens": [{"name": "dev-admin", "sha256": digest, "roles": ["issuer", "operator"]}],
        "city_signing_key": Key.generate("P-256").private_jwk(),
        # For the developer to call the admin API with; the server itself uses only the digest.
        "dev_admin_token": admin_token,
    }
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(data, indent=2) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process made them first (whole): use its keys
            theirs: dict[str, Any] = json.loads(path.read_text())
            return theirs
    finally:
        temporary.unlink(missing_ok=True)
    log.warning("development keys written to a new keys file; never use them in production")
    return data


def load_settings(args: argparse.Namespace | None, environ: Mapping[str, str]) -> Settings:
    """Build :class:`Settings` from, in rising precedence, defaults, a TOML file, the environment
    (``VCSDK_WALLET_<FIELD>``) and command-line flags.

    Without configured keys and with a SQLite database, development keys are generated into a
    0600 file beside the database (``<db>.keys.json``); a PostgreSQL deployment must configure
    ``token_signing_keys`` and ``data_keys``.

    :raises InvalidInputError: on a malformed value or missing production keys.
    :return: the settings.
    """
    values: dict[str, Any] = {}
    config = getattr(args, "config", None) or environ.get(f"{ENV_PREFIX}CONFIG")
    if config:
        with Path(config).open("rb") as fh:
            try:
                values.update(tomllib.load(fh))
            except tomllib.TOMLDecodeError as exc:
                raise InvalidInputError(f"the settings file is not valid TOML: {exc}") from None
    for name in _FIELDS:
        env = environ.get(f"{ENV_PREFIX}{name.upper()}")
        if env is not None:
            values[name] = env
    for name in _FIELDS:
        flag = getattr(args, name, None) if args is not None else None
        if flag is not None:
            values[name] = flag
    unknown = set(values) - set(_FIELDS)
    if unknown:
        raise InvalidInputError(f"unknown settings: {', '.join(sorted(unknown))}")
    try:
        typed = {name: _coerce(name, value) for name, value in values.items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInputError(f"a setting has the wrong shape: {type(exc).__name__}") from None
    settings = Settings(**typed)
    if not settings.token_signing_keys or not settings.data_keys:
        if not settings.database_url.startswith("sqlite:"):
            raise InvalidInputError("configure token_signing_keys and data_keys (see docs/operations.md)")
        keys_file = getattr(args, "keys_file", None) or Path(settings.database_url.split("///", 1)[-1] + ".keys.json")
        dev = _dev_keys(Path(keys_file))
        settings = replace(
            settings,
            token_signing_keys=settings.token_signing_keys or _parse_signing_keys(dev["token_signing_keys"]),
            data_keys=settings.data_keys or _parse_data_keys(dev["data_keys"]),
            admin_tokens=settings.admin_tokens or _parse_admin_tokens(dev["admin_tokens"]),
        )
        if settings.city_signing_key is None and "city_signing_key" in dev:
            settings = replace(settings, city_signing_key=_parse_city_key("city_signing_key", dev["city_signing_key"]))
    return replace(settings, current_data_key=settings.current_data_key or settings.data_keys[0][0])
