"""``vcsdk dev up``: a local city in one command, for developing a service or a wallet app against it.

It starts, on 127.0.0.1: anvil from the project's npm tools on the contracts' hardfork; the city's
three contracts deployed by a freshly funded city key; the resident registry (SOAP) with its seed
residents; and the wallet server on that chain (loopback calls allowed, receipts anchored one by one
and mined to their confirmations). It prints every URL, the network config, the admin token and a
funded key for the developer's own service, writes the same as ``city.json``, and runs until Ctrl-C
(or SIGTERM), then stops everything it started.

Registered in the ``vcsdk`` CLI through the ``vcsdk.commands`` entry point group, like ``serve``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from aiohttp import web

from vcsdk.credentials import RESIDENT_IDENTITY_CREDENTIAL, VctRegistry, disclosable_paths
from vcsdk.errors import InvalidInputError, VcsdkError
from vcsdk.keys import Key
from vcsdk.kyc import SEED_RESIDENTS, LocalResidentRegistry, ResidentRecord
from vcsdk.registration import ClaimSet, Purpose, RelyingPartyRegistration, issue_registration
from vcsdk.registry import DevChain, DevNode, contracts_hardfork, deploy_contracts, key_address
from wallet_server._logging import configure_logging
from wallet_server.app import create_app
from wallet_server.appkeys import CITY
from wallet_server.settings import load_settings

__all__ = ["CITY_FILE", "DEFAULT_DIR", "register"]

#: Where ``dev up`` keeps its files unless ``--dir`` says otherwise (relative to the current folder).
DEFAULT_DIR: Final = Path(".vcsdk-dev")
#: The machine-readable description of the running city, in that folder.
CITY_FILE: Final = "city.json"
#: What a fresh key gets from anvil's first dev account: plenty for development.
FUNDING_WEI: Final = 100 * 10**18
#: The files a run writes; the next run removes them first (nothing else in the folder is touched).
_OWN_FILES: Final = (
    CITY_FILE, "network.json", "service.jwk", "service-signing.jwk", "service-registration.jwt", "city.jwk",
    "wallet.sqlite3", "wallet.sqlite3-wal", "wallet.sqlite3-shm", "wallet.sqlite3-journal", "wallet-keys.json",
)
#: What the city registers the developer's service for: every claim of the resident credential and
#: these purposes (a real city registers a service for exactly what it needs).
DEV_PURPOSES: Final = (
    ("age-check", "Checking that you are old enough for what you buy"),
    ("resident-benefit", "A benefit for residents of the city"),
    ("identity-check", "Checking who you are"),
)
#: The service's own URL in the registration (where wallets send consent withdrawals).
DEV_SERVICE_URL: Final = "http://127.0.0.1:8070"


def register(sub: Any) -> None:
    """Add ``dev up`` to the ``vcsdk`` CLI's sub-parsers."""
    dev = sub.add_parser("dev", help="a local city for development (vcsdk dev up)",
                         description="Run a local city for development.")
    commands = dev.add_subparsers(dest="dev_command", metavar="COMMAND")
    up = commands.add_parser(
        "up",
        help="start a local city: anvil, the contracts, the KYC registry and the wallet server; Ctrl-C stops it",
        description="Start a local city on 127.0.0.1 and keep it running until Ctrl-C: anvil (the contracts' "
        "hardfork), the three contracts, the resident registry with its seed residents, and the wallet server "
        "(loopback calls allowed, receipts anchored at once). Prints every URL, the network config, the admin "
        "token and a funded key for your service; writes them to DIR/city.json. Port 0 picks a free port.",
    )
    up.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="folder for the city's files (default .vcsdk-dev)")
    up.add_argument("--rpc-port", type=int, default=8545, help="anvil's port (default 8545)")
    up.add_argument("--wallet-port", type=int, default=8080, help="the wallet server's port (default 8080)")
    up.add_argument("--kyc-port", type=int, default=8090, help="the resident registry's port (default 8090)")
    up.add_argument("--chain-id", type=_chain_id, default=31337, help="the dev chain id (default 31337 = 0x7a69)")
    up.add_argument("--json", action="store_true", help="once ready, print city.json's content as one JSON line")
    up.set_defaults(handler=_up)
    dev.set_defaults(handler=lambda _args: _usage(dev))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _chain_id(text: str) -> int:
    try:
        value = int(text, 16) if text.lower().startswith("0x") else int(text, 10)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a chain id; give e.g. 31337 or 0x7a69")
    return value


def _port(port: int, flag: str) -> int:
    """``port`` if it can be bound on 127.0.0.1 (a free one for 0).

    :raises InvalidInputError: naming the flag, when the port is taken or out of range.
    """
    if not 0 <= port <= 65535:
        raise InvalidInputError(f"{flag} must be between 0 and 65535 (0: any free port)")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise InvalidInputError(
                f"port {port} on 127.0.0.1 is in use (another `vcsdk dev up`?); stop it, or pass {flag} 0 "
                "for any free port"
            ) from None
        return int(sock.getsockname()[1])


def _write(path: Path, text: str, *, private: bool = False) -> None:
    tmp = path.with_name(path.name + ".tmp")
    if private:
        tmp.touch(mode=0o600)
    tmp.write_text(text)
    os.replace(tmp, path)


async def run_city(args: argparse.Namespace, *, ready: Callable[[dict[str, Any], float], None]) -> None:
    """Start the city, call ``ready(city, seconds)``, and run until cancelled; stop all on the way out.

    :raises VcsdkError: a step failed (a busy port, anvil missing, a deployment refused).
    """
    started = time.monotonic()
    directory = args.dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for name in _OWN_FILES:  # a fresh chain makes every earlier file stale
        (directory / name).unlink(missing_ok=True)
    rpc_port = _port(args.rpc_port, "--rpc-port")
    wallet_port = _port(args.wallet_port, "--wallet-port")
    kyc_port = _port(args.kyc_port, "--kyc-port")
    async with AsyncExitStack() as stack:
        node = await asyncio.to_thread(DevNode.start, port=rpc_port, chain_id=args.chain_id)
        stack.callback(node.stop)
        city_key, service_key = Key.generate("secp256k1"), Key.generate("secp256k1")
        async with await DevChain.connect(node.url, chain_id=node.chain_id) as chain:
            for key in (city_key, service_key):
                await chain.fund(key_address(key), FUNDING_WEI)
        config = await deploy_contracts(node.url, city_key, chain_id=node.chain_id)
        network = directory / "network.json"
        _write(network, json.dumps(config, indent=2) + "\n")
        _write(directory / "service.jwk", json.dumps(service_key.private_jwk(), indent=2) + "\n", private=True)
        _write(directory / "city.jwk", json.dumps(city_key.private_jwk(), indent=2) + "\n", private=True)

        registry = LocalResidentRegistry(port=kyc_port)
        await registry.start()
        stack.push_async_callback(registry.stop)

        wallet_url = f"http://127.0.0.1:{wallet_port}"
        keys_file = directory / "wallet-keys.json"
        base = load_settings(
            argparse.Namespace(database_url=f"sqlite:///{directory / 'wallet.sqlite3'}", keys_file=keys_file), {}
        )
        settings = replace(
            base, host="127.0.0.1", port=wallet_port, public_base_url=wallet_url, rpc_url=node.url,
            city_key=city_key, network_config=str(network), kyc_registry_url=registry.url, city_name="Kaga City (dev)",
            allow_loopback_http=True, mine_to_confirm=True, receipt_batch_size=1, receipt_batch_max_age=timedelta(0),
            receipt_anchor_interval=timedelta(seconds=1), receipt_confirmations=2, log_level="WARNING",
        )
        app = create_app(settings)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        await web.TCPSite(runner, "127.0.0.1", wallet_port).start()
        city = await app[CITY].get()  # DID, signing key and accreditation on chain, before "ready"

        vcts = VctRegistry(settings.vct_base) if settings.vct_base else VctRegistry()
        service_did = f"did:ethr:{hex(node.chain_id)}:{key_address(service_key)}"
        registration = _register_service(city.signing_key, city.did, service_did, vcts.resident_identity)
        _write(directory / "service-registration.jwt", registration + "\n")
        info: dict[str, Any] = {
            "rpc_url": node.url,
            "chain_id": node.chain_id,
            "hardfork": contracts_hardfork(),
            "network_config": str(network),
            "contracts": {name: entry["address"] for name, entry in config["contracts"].items()},
            "wallet_url": wallet_url,
            "api_docs": f"{wallet_url}/docs",
            "issuer_url": f"{wallet_url}/issuer",
            "kyc_registry_url": registry.url,
            "city_did": city.did,
            "resident_identity_vct": vcts.resident_identity,
            "admin_token": json.loads(keys_file.read_text())["dev_admin_token"],
            "service_key": str(directory / "service.jwk"),
            "service_address": key_address(service_key),
            "service_did": service_did,
            "service_registration": registration,
            "service_purposes": {purpose_id: text for purpose_id, text in DEV_PURPOSES},
            "city_key": str(directory / "city.jwk"),
            "seed_residents": sum(1 for e in SEED_RESIDENTS if e.status == "active"),
            "seed_resident": _identity(next(e.record for e in SEED_RESIDENTS if e.status == "active")),
            "pid": os.getpid(),
            "anvil_pid": node.pid,
        }
        _write(directory / CITY_FILE, json.dumps(info, indent=2, ensure_ascii=False) + "\n", private=True)
        ready(info, time.monotonic() - started)
        await asyncio.Event().wait()  # until cancelled (Ctrl-C, SIGTERM)


def _register_service(city_key: Key, city_did: str, service_did: str, vct: str) -> str:
    """The city's registration of the developer's service (its DID is the funded key's), so the
    wallet server, which refuses unregistered services, answers it."""
    now = datetime.now(UTC)
    return issue_registration(
        city_key,
        RelyingPartyRegistration(
            issuer=city_did, service_did=service_did, registration_id="reg-dev-service", name="Your service (dev)",
            purposes=tuple(Purpose(purpose_id, text) for purpose_id, text in DEV_PURPOSES),
            claim_sets=(ClaimSet("resident", vct, tuple(disclosable_paths(RESIDENT_IDENTITY_CREDENTIAL))),),
            retention_days=30, receipt_endpoint=f"{DEV_SERVICE_URL}/withdrawals",
            privacy_policy=f"{DEV_SERVICE_URL}/privacy", jurisdiction="JP-17",
            issued_at=now - timedelta(days=1), expires_at=now + timedelta(days=365),
        ),
    )


def _announce(info: dict[str, Any], seconds: float) -> None:
    city_file = Path(info["network_config"]).with_name(CITY_FILE)
    rows = [
        ("chain", f"{info['rpc_url']}  (anvil, chain id {info['chain_id']} = {hex(info['chain_id'])}, "
                  f"{info['hardfork']})"),
        ("wallet server", f"{info['wallet_url']}  (API page: {info['api_docs']})"),
        ("city issuer", f"{info['issuer_url']}  (OpenID4VCI)"),
        ("KYC registry", f"{info['kyc_registry_url']}  (SOAP, {info['seed_residents']} active seed residents)"),
        ("city DID", info["city_did"]),
        ("network config", info["network_config"]),
        ("admin token", f"{info['admin_token']}  (Authorization: Bearer …)"),
        ("service key", f"{info['service_key']}  ({info['service_address']}, funded with "
                        f"{FUNDING_WEI // 10**18} ETH)"),
        ("service DID", f"{info['service_did']}  (registered by the city for "
                        f"{', '.join(info['service_purposes'])}: service-registration.jwt)"),
        ("all of this", f"{city_file}  (export VCSDK_DEV_CITY={city_file})"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"A local city is up ({seconds:.1f} s). Ctrl-C stops it.", ""]
    lines += [f"  {name.ljust(width)}  {value}" for name, value in rows]
    print("\n".join(lines), flush=True)


def _up(args: argparse.Namespace) -> int:
    configure_logging("WARNING")

    def ready(info: dict[str, Any], seconds: float) -> None:
        if args.json:
            print(json.dumps({**info, "ready_seconds": round(seconds, 2)}, ensure_ascii=False), flush=True)
        else:
            _announce(info, seconds)

    async def main() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        await run_city(args, ready=ready)

    try:
        asyncio.run(main())
    except (asyncio.CancelledError, KeyboardInterrupt):
        pass
    except VcsdkError:
        raise  # the CLI prints it as a JSON problem, after everything started was stopped
    if not args.json:
        print("Stopped: the wallet server, the KYC registry and anvil.", flush=True)
    with contextlib.suppress(OSError):
        sys.stdout.flush()
    return 0


def _identity(record: ResidentRecord) -> dict[str, str]:
    """What the city's staff types in for a seed resident's identity check (``AdminClient.issue``)."""
    a = record.address
    return {"family_name": record.family_name, "given_name": record.given_name,
            "birthdate": record.birthdate.isoformat(), "address": f"{a.postal_code} {a.prefecture}{a.city}{a.street}"}
