// The voter's device, in the browser (docs/voting.md, "The voter's device"): the token key checked
// against its on-chain commitment, a random serial blinded with RFC 9474 (blindrsa-ts), the
// eligibility presentation key-bound to the token issuer, the unblinded token, the ballot's salted
// commitment and its inclusion proof checked against the root the chain holds.
//
// The byte layouts are vcsdk.voting's and vcsdk.receipts' exactly (tests/browser/test_voting_js.py
// runs these functions against the Python ones). Nothing here talks to the wallet server.

import { RSABSSA } from '../vendor/blindrsa/index.js'
import { b64url, b64urlDecode, sha256b64url, signJws } from './device.js'

const ENCODER = new TextEncoder()
const TOKEN_MESSAGE_DOMAIN = 'vcsdk/voting/ballot-token/v1'
const KEY_SLOT_DOMAIN = 'vcsdk/voting/token-key-slot/v1'
const KEY_DIGEST_DOMAIN = 'vcsdk/voting/token-key/v1'
const COMMITMENT_DOMAIN = 'vcsdk/voting/ballot/v1'
const BATCH_ID_DOMAIN = 'vcsdk/receipt-batch/v1'
// AccessReceiptRegistry (the election's anchor contract): keccak256 of the event and function
// signatures, computed once (tests/browser/test_voting_js.py checks them against the ABI).
export const BATCH_ANCHORED_TOPIC = '0x0b685a9e45a9ab3b97236003b914284b42fa9f4af4b5b4f7f0bad678e4549528'
export const ROOT_OF_SELECTOR = '0x6d6f398e'
export const SERIAL_BYTES = 32
export const ELIGIBILITY_CLAIMS = ['election_id', 'eligible', 'district', 'age_over_18']

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** A text as vcsdk writes it into hashed messages: 4-byte big-endian length, then UTF-8. */
function field(text) {
  const data = ENCODER.encode(text)
  const length = new Uint8Array(4)
  new DataView(length.buffer).setUint32(0, data.length)
  return concat(length, data)
}

function scope(electionId, district) {
  return concat(field(electionId), field(district || ''))
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
}

export function toHex(bytes) {
  return '0x' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

export function fromHex(text) {
  const hex = String(text).replace(/^0x/, '')
  if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new Error('not hex')
  return new Uint8Array(hex.match(/../g)?.map((b) => parseInt(b, 16)) || [])
}

function equal(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

export function tokenMessage(electionId, district, serial) {
  if (serial.length !== SERIAL_BYTES) throw new Error('a ballot token serial is 32 bytes')
  return concat(ENCODER.encode(TOKEN_MESSAGE_DOMAIN), scope(electionId, district), serial)
}

export async function tokenKeySlot(electionId, district) {
  return sha256(concat(ENCODER.encode(KEY_SLOT_DOMAIN), scope(electionId, district)))
}

export async function tokenKeyDigest(electionId, district, spki) {
  return sha256(concat(ENCODER.encode(KEY_DIGEST_DOMAIN), scope(electionId, district), spki))
}

export async function ballotCommitment(electionId, choice, salt) {
  if (salt.length !== 32) throw new Error('a ballot salt is 32 bytes')
  return sha256(concat(ENCODER.encode(COMMITMENT_DOMAIN), field(electionId), field(choice), salt))
}

async function batchIdFor(root, size) {
  const n = new Uint8Array(4)
  new DataView(n.buffer).setUint32(0, size)
  return sha256(concat(ENCODER.encode(BATCH_ID_DOMAIN), root, n))
}

/** RFC 9162 §2.1.3.2, as vcsdk.receipts.verify_inclusion: true when `leaf` leads to `root`. */
export async function verifyInclusion(leaf, proof, root) {
  const { leaf_index: index, tree_size: size } = proof
  if (leaf.length !== 32 || root.length !== 32 || !(index >= 0 && index < size)) return false
  if (!equal(fromHex(proof.batch_id), await batchIdFor(root, size))) return false
  let fn = index
  let sn = size - 1
  let r = await sha256(concat(new Uint8Array([0]), leaf))
  for (const hex of proof.audit_path) {
    const p = fromHex(hex)
    if (p.length !== 32 || sn === 0) return false
    if (fn & 1 || fn === sn) {
      r = await sha256(concat(new Uint8Array([1]), p, r))
      if (!(fn & 1)) {
        while (!(fn & 1) && fn !== 0) {
          fn >>= 1
          sn >>= 1
        }
      }
    } else {
      r = await sha256(concat(new Uint8Array([1]), r, p))
    }
    fn >>= 1
    sn >>= 1
  }
  return sn === 0 && equal(r, root)
}

// -- the chain: read the anchor contract over JSON-RPC from a node the voter chose -------------

async function rpc(url, method, params) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = await response.json()
  if (body.error) throw new Error(`${method}: ${body.error.message || 'error'}`)
  return body.result
}

/** What the contract holds at `slot`: {root, blockNumber, committedAt (seconds)} or null. */
export async function readAnchored(rpcUrl, contract, slot) {
  const logs = await rpc(rpcUrl, 'eth_getLogs', [
    { address: contract, fromBlock: '0x0', toBlock: 'latest', topics: [BATCH_ANCHORED_TOPIC, toHex(slot)] },
  ])
  if (!logs.length) return null
  const log = logs[0]
  const block = await rpc(rpcUrl, 'eth_getBlockByNumber', [log.blockNumber, false])
  return { root: fromHex(log.data).slice(0, 32), blockNumber: parseInt(log.blockNumber, 16), committedAt: parseInt(block.timestamp, 16) }
}

/** The root the contract holds for `batchId` (null when none). */
export async function rootOf(rpcUrl, contract, batchId) {
  const data = ROOT_OF_SELECTOR + toHex(batchId).slice(2)
  const root = fromHex(await rpc(rpcUrl, 'eth_call', [{ to: contract, data }, 'latest']))
  return root.every((b) => b === 0) ? null : root
}

export async function chainId(rpcUrl) {
  return parseInt(await rpc(rpcUrl, 'eth_chainId', []), 16)
}

// -- the token: check the key, blind, present, unblind ---------------------------------------

const SUITE = () => RSABSSA.SHA384.PSS.Randomized()

export async function importTokenKey(spkiB64url) {
  return crypto.subtle.importKey('spki', b64urlDecode(spkiB64url), { name: 'RSA-PSS', hash: 'SHA-384' }, true, ['verify'])
}

/**
 * Check a token key against what the chain holds at its slot (same key, committed no later than the
 * election opens), as vcsdk.voting.check_token_key. Returns null when fine, else the reason.
 */
export async function checkTokenKey(key, election, anchored) {
  if (key.election_id !== election.election_id) return 'wrong_election'
  if (!anchored) return 'not_committed'
  const digest = await tokenKeyDigest(key.election_id, key.district, b64urlDecode(key.spki))
  if (!equal(digest, anchored.root)) return 'key_differs'
  if (anchored.committedAt * 1000 > Date.parse(election.opens_at)) return 'committed_late'
  return null
}

/** Pick a serial and blind it; keep the result on this phone until the signature comes back. */
export async function beginToken(key) {
  const serial = crypto.getRandomValues(new Uint8Array(SERIAL_BYTES))
  const publicKey = await importTokenKey(key.spki)
  const suite = SUITE()
  const inputMsg = suite.prepare(tokenMessage(key.election_id, key.district, serial))
  const { blindedMsg, inv } = await suite.blind(publicKey, inputMsg)
  return { key, serial: b64url(serial), inputMsg: b64url(inputMsg), blindedMsg: b64url(blindedMsg), inv: b64url(inv) }
}

/** Unblind the issuer's answer and check it under the key checked on chain. */
export async function finishToken(pending, blindSig) {
  const publicKey = await importTokenKey(pending.key.spki)
  const inputMsg = b64urlDecode(pending.inputMsg)
  const signature = await SUITE().finalize(publicKey, inputMsg, b64urlDecode(blindSig), b64urlDecode(pending.inv))
  return {
    election_id: pending.key.election_id,
    district: pending.key.district,
    serial: pending.serial,
    prefix: b64url(inputMsg.slice(0, 32)),
    signature: b64url(signature),
  }
}

/**
 * An SD-JWT+KB presentation of `token` disclosing the named top-level claims, bound to `audience`
 * and `nonce` by a Key Binding JWT the device key signs (RFC 9901 §4.3).
 */
export async function presentTopLevel(token, names, { audience, nonce, privateKey }) {
  const parts = token.split('~')
  const chosen = parts.slice(1).filter((d) => {
    if (!d || d.includes('.')) return false
    const value = JSON.parse(new TextDecoder().decode(b64urlDecode(d)))
    return value.length === 3 && names.includes(value[1])
  })
  const presented = `${parts[0]}~${chosen.map((d) => `${d}~`).join('')}`
  const kb = await signJws(privateKey, { typ: 'kb+jwt' }, {
    iat: Math.floor(Date.now() / 1000),
    aud: audience,
    nonce,
    sd_hash: await sha256b64url(presented),
  })
  return presented + kb
}

/** A fresh 32-byte salt and the ballot's commitment (the voter keeps both). */
export async function prepareBallot(electionId, choice) {
  const salt = crypto.getRandomValues(new Uint8Array(32))
  return { election_id: electionId, choice, salt: toHex(salt), commitment: toHex(await ballotCommitment(electionId, choice, salt)) }
}
