// A credential's status as its issuer's Token Status List says now (IETF draft-ietf-oauth-status-list:
// a ZLIB-compressed bit string, 1 or 2 bits per entry, least significant bits first). For display on
// this phone only: verifiers check the list's signature themselves.

import { b64urlDecode } from './device.js'

const DECODER = new TextDecoder()
const NAMES = { 0: 'valid', 1: 'revoked', 2: 'suspended' }

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'))
  return new Uint8Array(await new Response(stream).arrayBuffer())
}

/** 'valid', 'revoked', 'suspended', or null when the list cannot be read from this origin. */
export async function credentialStatus(payload) {
  const entry = payload && payload.status && payload.status.status_list
  if (!entry || typeof entry.uri !== 'string' || !Number.isInteger(entry.idx)) return null
  let url
  try {
    url = new URL(entry.uri)
  } catch {
    return null
  }
  if (url.origin !== location.origin) return null // this page may only call its own server
  const response = await fetch(url, { cache: 'no-cache', headers: { Accept: 'application/statuslist+jwt' } })
  if (!response.ok) return null
  const claims = JSON.parse(DECODER.decode(b64urlDecode((await response.text()).split('.')[1])))
  const { bits, lst } = claims.status_list
  const list = await inflate(b64urlDecode(lst))
  const position = entry.idx * bits
  const byte = list[Math.floor(position / 8)]
  if (byte === undefined) return null
  const value = (byte >> (position % 8)) & ((1 << bits) - 1)
  return NAMES[value] || `status ${value}`
}
