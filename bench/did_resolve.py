"""did:ethr resolution benchmark: vcsdk vs npm ethr-did-resolver 11.x on the same anvil chain.

Starts a local anvil node (from tools/node_modules), deploys the ERC-1056 registry and gives one
identity 50 changes (attributes, delegates, revocations, an owner change). Then measures, in one run:

* cold resolve: no cached events (the resolver walks the identity's ``changed`` list), an open
  connection; median of several rounds, with the JSON-RPC requests one resolve makes;
* the same for ethr-did-resolver (it has no event cache: every resolve is cold), timed inside node;
* warm resolve: vcsdk's cache serving the document (no RPC) — resolves per second.

The documents of both resolvers are checked to agree before timing. The last line is
``cold_vs_ethr_did_resolver=<ratio> warm_resolves_per_s=<n>`` (ratio < 1: vcsdk is faster).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vcsdk.did import EthrNetwork, key_attribute  # noqa: E402
from vcsdk.ethr import EthrRegistry, Resolver  # noqa: E402
from vcsdk.keys import Key  # noqa: E402
from vcsdk.registry import Chain, DevChain, DevNode, key_address  # noqa: E402

#: VCSDK_BENCH_QUICK=1: a short history and few rounds, for the test that keeps the benchmarks running.
QUICK = os.environ.get("VCSDK_BENCH_QUICK") == "1"
CHANGES = 8 if QUICK else 50
COLD_ROUNDS = 2 if QUICK else 7
WARM_RESOLVES = 2_000 if QUICK else 200_000
SCRIPT = ROOT / "tests" / "did" / "ethr_reference.mjs"


async def build_history(chain: Chain) -> tuple[str, str, EthrNetwork]:
    accounts = await chain.dev_accounts()
    registry = await chain.deploy("EthereumDIDRegistry", sender=accounts[0])
    network = EthrNetwork(chain_id=int(chain.chain_id), registry=registry, chain=chain)
    reg = await EthrRegistry.bind(chain, [network])
    owner = Key.generate("secp256k1")
    await chain.fund(key_address(owner), 10**18)
    identity = key_address(owner)
    changes = 0
    i = 0
    while changes < CHANGES - 1:
        i += 1
        if i % 5 == 0:
            await reg.set_attribute(identity, *key_attribute(Key.generate("P-256")), sender=owner)
        elif i % 5 == 1:
            await reg.add_delegate(identity, "veriKey", key_address(Key.generate("secp256k1")), sender=owner)
        elif i % 5 == 2:
            await reg.set_attribute(identity, f"did/svc/Service{i}", f"https://s{i}.example.org", sender=owner)
        elif i % 5 == 3:
            await reg.revoke_attribute(
                identity, f"did/svc/Service{i - 1}", f"https://s{i - 1}.example.org", sender=owner
            )
        else:
            await reg.set_attribute(
                identity, *key_attribute(Key.generate("secp256k1"), purpose="sigAuth"), sender=owner
            )
        changes += 1
    new_owner = Key.generate("secp256k1")
    await reg.change_owner(identity, key_address(new_owner), sender=owner)
    did = f"did:ethr:{hex(int(chain.chain_id))}:{identity}"
    return did, registry, network


def run_reference(node: DevNode, registry: str, did: str, now: int, repeat: int) -> dict[str, object]:
    request = {
        "mode": "resolve",
        "rpcUrl": node.url,
        "registry": registry,
        "chainId": node.chain_id,
        "networkName": "dev",
        "dids": [did],
        "now": now,
        "repeat": repeat,
    }
    proc = subprocess.run(
        ["node", str(SCRIPT)], input=json.dumps(request).encode(), capture_output=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise SystemExit("ethr-did-resolver failed: " + proc.stderr.decode(errors="replace")[-2000:])
    answer: dict[str, object] = json.loads(proc.stdout)
    return answer


async def main() -> None:
    with DevNode.start(startup_timeout=60.0) as node:
        async with await DevChain.connect(node.url, chain_id=node.chain_id, mine_to_confirm=True) as chain:
            did, registry, network = await build_history(chain)
            head = await chain.get_block("latest")
            now = head.timestamp + 60

            def clock() -> datetime:
                return datetime.fromtimestamp(now, UTC)

            reference = run_reference(node, registry, did, now, repeat=COLD_ROUNDS + 1)
            ref_times = list(reference["times"])  # type: ignore[call-overload]
            ref_calls = list(reference["calls"])  # type: ignore[call-overload]
            ref_cold = statistics.median(ref_times[1:])  # the first includes provider start-up
            ref_rpc = statistics.median(ref_calls[1:])

            async with Resolver([network], clock=clock, cache_ttl=timedelta(hours=1)) as resolver:
                ours = await resolver.resolve(did)
                theirs = reference["results"][0]  # type: ignore[index]
                assert ours.did_document_metadata == theirs["didDocumentMetadata"], "metadata differs"
                assert [vm["id"] for vm in ours.document_json()["verificationMethod"]] == [
                    vm["id"] for vm in theirs["didDocument"]["verificationMethod"]
                ], "verification methods differ"
                cold_times: list[float] = []
                cold_calls: list[int] = []
                for _ in range(COLD_ROUNDS):
                    resolver.invalidate()
                    before = resolver.rpc_calls
                    t0 = time.perf_counter()
                    await resolver.resolve(did)
                    cold_times.append(time.perf_counter() - t0)
                    cold_calls.append(resolver.rpc_calls - before)
                our_cold = statistics.median(cold_times)
                our_rpc = statistics.median(cold_calls)

                before = resolver.rpc_calls
                t0 = time.perf_counter()
                for _ in range(WARM_RESOLVES):
                    await resolver.resolve(did)
                warm_elapsed = time.perf_counter() - t0
                assert resolver.rpc_calls == before, "warm resolves must not touch the chain"
                warm_rate = WARM_RESOLVES / warm_elapsed

                # Revalidation cost when the cache is old: one changed() call.
                stale = Resolver([network], clock=clock, cache_ttl=timedelta(0))
                await stale.resolve(did)
                before = stale.rpc_calls
                t0 = time.perf_counter()
                await stale.resolve(did)
                revalidate = time.perf_counter() - t0
                revalidate_calls = stale.rpc_calls - before
                await stale.close()

    ratio = our_cold / ref_cold
    print(f"identity changes: {CHANGES} (one anvil chain, head block {head.number})")
    print(f"ethr-did-resolver 11 cold resolve: {ref_cold * 1000:.1f} ms, {ref_rpc:.0f} HTTP requests")
    print(f"vcsdk cold resolve:                {our_cold * 1000:.1f} ms, {our_rpc:.0f} JSON-RPC calls")
    print(f"vcsdk revalidation (cache expired, nothing changed): {revalidate * 1000:.2f} ms, {revalidate_calls} call")
    print(f"vcsdk warm resolve: {warm_rate:,.0f}/s over {WARM_RESOLVES} resolves, 0 calls")
    print(f"cold time ratio vcsdk/ethr-did-resolver: {ratio:.3f}; RPC ratio: {our_rpc / ref_rpc:.3f}")
    print(f"cold_vs_ethr_did_resolver={ratio:.3f} warm_resolves_per_s={warm_rate:.0f}")


if __name__ == "__main__":
    asyncio.run(main())
