// Runs @cloudflare/blindrsa-ts (npm, pinned in tools/package.json) for the RFC 9474 interop tests.
//
// Reads one JSON request on stdin and writes one JSON answer on stdout; every byte string is hex.
//   {"op": "keygen", "bits"}                                   -> {"spki", "pkcs8"}
//   {"op": "blind", "variant", "spki", "msg"}                  -> {"input_msg", "blinded_msg", "inv"}
//   {"op": "blind_sign", "variant", "pkcs8", "blinded_msg"}    -> {"blind_sig"}
//   {"op": "finalize", "variant", "spki", "input_msg", "blind_sig", "inv"} -> {"sig"}
//   {"op": "verify", "variant", "spki", "input_msg", "sig"}    -> {"valid"}
// "variant" is an RFC 9474 name (RSABSSA-SHA384-PSS-Randomized, ...). Errors: {"error": message}.
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const toolsDir = process.env.VCSDK_TOOLS_DIR || path.resolve(here, '..', '..', 'tools')
const entry = path.join(toolsDir, 'node_modules', '@cloudflare', 'blindrsa-ts', 'lib', 'src', 'index.js')
const { RSABSSA } = await import(pathToFileURL(entry).href)

const SUITES = {
  'RSABSSA-SHA384-PSS-Randomized': () => RSABSSA.SHA384.PSS.Randomized(),
  'RSABSSA-SHA384-PSSZERO-Randomized': () => RSABSSA.SHA384.PSSZero.Randomized(),
  'RSABSSA-SHA384-PSS-Deterministic': () => RSABSSA.SHA384.PSS.Deterministic(),
  'RSABSSA-SHA384-PSSZERO-Deterministic': () => RSABSSA.SHA384.PSSZero.Deterministic(),
}
const ALG = { name: 'RSA-PSS', hash: 'SHA-384' }
const hex = (bytes) => Buffer.from(bytes).toString('hex')
const bytes = (text) => new Uint8Array(Buffer.from(text, 'hex'))

function suite(name) {
  const make = SUITES[name]
  if (!make) throw new Error(`unknown variant ${name}`)
  const s = make()
  if (s.toString() !== name) throw new Error(`suite ${s.toString()} is not ${name}`)
  return s
}

const publicKey = (spki) => crypto.subtle.importKey('spki', bytes(spki), ALG, true, ['verify'])
const privateKey = (pkcs8) => crypto.subtle.importKey('pkcs8', bytes(pkcs8), ALG, true, ['sign'])

async function handle(req) {
  switch (req.op) {
    case 'keygen': {
      const pair = await RSABSSA.SHA384.generateKey({
        modulusLength: req.bits,
        publicExponent: Uint8Array.from([1, 0, 1]),
      })
      return {
        spki: hex(await crypto.subtle.exportKey('spki', pair.publicKey)),
        pkcs8: hex(await crypto.subtle.exportKey('pkcs8', pair.privateKey)),
      }
    }
    case 'blind': {
      const s = suite(req.variant)
      const inputMsg = s.prepare(bytes(req.msg))
      const { blindedMsg, inv } = await s.blind(await publicKey(req.spki), inputMsg)
      return { input_msg: hex(inputMsg), blinded_msg: hex(blindedMsg), inv: hex(inv) }
    }
    case 'blind_sign': {
      const s = suite(req.variant)
      return { blind_sig: hex(await s.blindSign(await privateKey(req.pkcs8), bytes(req.blinded_msg))) }
    }
    case 'finalize': {
      const s = suite(req.variant)
      const sig = await s.finalize(await publicKey(req.spki), bytes(req.input_msg), bytes(req.blind_sig), bytes(req.inv))
      return { sig: hex(sig) }
    }
    case 'verify': {
      const s = suite(req.variant)
      return { valid: await s.verify(await publicKey(req.spki), bytes(req.sig), bytes(req.input_msg)) }
    }
    default:
      throw new Error(`unknown op ${req.op}`)
  }
}

let input = ''
for await (const chunk of process.stdin) input += chunk
let answer
try {
  answer = await handle(JSON.parse(input))
} catch (err) {
  answer = { error: String(err && err.message ? err.message : err) }
}
process.stdout.write(JSON.stringify(answer))
