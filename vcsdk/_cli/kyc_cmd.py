"""``vcsdk kyc``: run the local resident registry, or check an identity against any registry."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from datetime import date
from pathlib import Path
from typing import Any

from vcsdk._cli import print_json
from vcsdk.errors import InvalidInputError
from vcsdk.kyc import SEED_RESIDENTS, LocalResidentRegistry, RegistryClientConfig, ResidentRegistryClient


def register(sub: Any) -> None:
    kyc = sub.add_parser("kyc", help="resident registry (SOAP): run a local one, check an identity")
    kyc_sub = kyc.add_subparsers(dest="kyc_command", metavar="ACTION", required=True)

    serve = kyc_sub.add_parser(
        "serve-registry",
        help="run the local SOAP resident registry with synthetic residents",
        description="Serve the resident registry (WSDL at <url>?wsdl) until interrupted. Prints one JSON "
        "line with the URL on stdout; logs requests (never their content) on stderr.",
    )
    serve.add_argument("--port", type=int, default=8080, help="TCP port; 0 picks a free one (default 8080)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.set_defaults(handler=_serve)

    check = kyc_sub.add_parser(
        "check",
        help="ask a registry whether an identity matches (debugging; prints JSON)",
        description="Call CheckResident and, on a full match, GetResidentStatus. The output contains the "
        "registry's personal data: run it only where that is allowed.",
    )
    check.add_argument("--endpoint", required=True, help="the registry's SOAP endpoint URL")
    check.add_argument("--family-name", required=True)
    check.add_argument("--given-name", required=True)
    check.add_argument("--birth-date", required=True, help="YYYY-MM-DD")
    check.add_argument("--address", required=True, help="one line, optionally starting with the postal code")
    check.add_argument("--timeout", type=float, default=10.0, help="seconds per attempt (default 10)")
    check.add_argument("--attempts", type=int, default=3, help="attempts on transport errors (default 3)")
    check.add_argument("--ca-file", type=Path, help="PEM bundle of the CA that signed the registry's certificate")
    check.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (test registries)")
    check.set_defaults(handler=_check)


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(_serve_until_stopped(args.host, args.port))


async def _serve_until_stopped(host: str, port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with LocalResidentRegistry(host=host, port=port, access_log=True) as registry:
        # One line, so scripts can read the address of a registry started with --port 0.
        line = {"url": registry.url, "wsdl": registry.wsdl_url, "residents": len(SEED_RESIDENTS)}
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()
        await stop.wait()
    return 0


def _check(args: argparse.Namespace) -> int:
    try:
        birthdate = date.fromisoformat(args.birth_date)
    except ValueError:
        raise InvalidInputError("--birth-date must be YYYY-MM-DD") from None
    config = RegistryClientConfig(
        timeout=args.timeout, max_attempts=args.attempts, ca_file=args.ca_file, verify=not args.insecure
    )
    print_json(asyncio.run(_check_identity(args, birthdate, config)))
    return 0


async def _check_identity(args: argparse.Namespace, birthdate: date, config: RegistryClientConfig) -> dict[str, Any]:
    async with ResidentRegistryClient(args.endpoint, config=config) as client:
        result = await client.check_resident(
            family_name=args.family_name, given_name=args.given_name, birthdate=birthdate, address=args.address
        )
        out: dict[str, Any] = {"matched": result.outcome, "matched_fields": sorted(result.matched_fields)}
        record = result.record
        if record is not None:
            out["resident"] = {
                "resident_id": record.resident_id,
                "family_name": record.family_name,
                "given_name": record.given_name,
                "family_name_kana": record.family_name_kana,
                "given_name_kana": record.given_name_kana,
                "birth_date": record.birthdate.isoformat(),
                "address": {
                    "postal_code": record.address.postal_code,
                    "prefecture": record.address.prefecture,
                    "city": record.address.city,
                    "street": record.address.street,
                },
                "resident_since": record.resident_since.isoformat(),
            }
            status = await client.get_resident_status(record.resident_id)
            out["status"] = {"status": status.status, "since": status.since.isoformat()}
    return out
