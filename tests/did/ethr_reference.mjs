// Runs the reference did:ethr resolver (npm ethr-did-resolver 11.x) for interop tests and the benchmark.
//
// Reads one JSON request on stdin and writes one JSON answer on stdout:
//   {"mode": "wrap", "cases": [{did, address, controllerKey, history, chainId, blockHeight, now}]}
//       -> the output of EthrDidResolver.wrapDidDocument for each case (no chain needed);
//   {"mode": "resolve", "rpcUrl", "registry", "chainId", "dids": [...], "now"?: seconds, "repeat"?: n}
//       -> {"results": [DIDResolutionResult...] (first round), "seconds": total wall time, "rpcCalls": n,
//           "times": [seconds per resolve], "calls": [HTTP requests per resolve]}.
// "now" pins the clock ethr-did-resolver reads (new Date()), so expiry is judged at the same instant
// as in the Python resolver under test.
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const toolsDir = process.env.VCSDK_TOOLS_DIR || path.resolve(here, '..', '..', 'tools')
const require = createRequire(path.join(toolsDir, 'package.json'))
const { getResolver } = require('ethr-did-resolver')
// The resolver class is not exported from the package root; wrap mode needs its wrapDidDocument.
const { EthrDidResolver } = require(path.join(toolsDir, 'node_modules', 'ethr-did-resolver', 'lib', 'resolver.js'))
const { Resolver } = require('did-resolver')
const { FetchRequest } = require('ethers')

function pinClock(seconds) {
  const RealDate = Date
  const fixed = seconds * 1000
  class PinnedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(fixed)
      else super(...args)
    }
    static now() {
      return fixed
    }
  }
  globalThis.Date = PinnedDate
}

function reviveEvent(e) {
  const out = { ...e }
  out.previousChange = BigInt(e.previousChange)
  if (e.validTo !== undefined && e.validTo !== null) out.validTo = BigInt(e.validTo)
  return out
}

async function readStdin() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

const replacer = (_k, v) => (typeof v === 'bigint' ? v.toString() : v)

async function main() {
  const req = await readStdin()
  if (req.mode === 'wrap') {
    const resolver = new EthrDidResolver({ networks: [{ name: 'dev', chainId: 1337, rpcUrl: 'http://127.0.0.1:9' }] })
    const out = req.cases.map((c) =>
      resolver.wrapDidDocument(
        c.did,
        c.address,
        c.controllerKey ?? undefined,
        c.history.map(reviveEvent),
        BigInt(c.chainId),
        c.blockHeight,
        BigInt(c.now)
      )
    )
    process.stdout.write(JSON.stringify(out, replacer))
    return
  }
  if (req.mode === 'resolve') {
    let rpcCalls = 0
    // Count JSON-RPC requests (a batch counts once per HTTP request, as for our resolver).
    FetchRequest.registerGetUrl(
      ((base) => async (r, signal) => {
        rpcCalls += 1
        return base(r, signal)
      })(FetchRequest.createGetUrlFunc())
    )
    if (req.now !== undefined && req.now !== null) pinClock(req.now)
    const resolver = new Resolver(
      getResolver({
        networks: [{ name: req.networkName, chainId: req.chainId, rpcUrl: req.rpcUrl, registry: req.registry }],
      }),
      { cache: false }
    )
    const repeat = req.repeat ?? 1
    const results = []
    const times = []
    const calls = []
    const start = process.hrtime.bigint()
    for (let i = 0; i < repeat; i++) {
      for (const did of req.dids) {
        const before = rpcCalls
        const t0 = process.hrtime.bigint()
        const r = await resolver.resolve(did)
        times.push(Number(process.hrtime.bigint() - t0) / 1e9)
        calls.push(rpcCalls - before)
        if (i === 0) results.push(r)
      }
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    process.stdout.write(JSON.stringify({ results, seconds, rpcCalls, times, calls }, replacer))
    return
  }
  throw new Error(`unknown mode ${req.mode}`)
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + '\n')
  process.exit(1)
})
