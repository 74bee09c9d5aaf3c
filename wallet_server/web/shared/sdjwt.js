// Reading an SD-JWT (RFC 9901) for display on this phone: the issuer-signed payload with every
// disclosure the wallet holds put back in place. Nothing here verifies anything (the services
// verify what they receive); it only shows the resident what their credential says.

import { b64urlDecode, sha256b64url } from './device.js'

const DECODER = new TextDecoder()
const SD = '_sd'
const ARRAY_ELEMENT = '...'
const TECHNICAL = new Set(['_sd', '_sd_alg', 'cnf', 'status'])

function decodeJson(part) {
  return JSON.parse(DECODER.decode(b64urlDecode(part)))
}

/**
 * @returns {{payload: object, claims: object, selective: string[][], always: string[]}}
 *   claims: the payload with the disclosures applied; selective: the paths of the claims the
 *   resident can choose to share or withhold; always: the top-level names every presentation carries.
 */
export async function readSdJwt(token) {
  const parts = token.split('~')
  const payload = decodeJson(parts[0].split('.')[1])
  const disclosures = new Map()
  for (const part of parts.slice(1)) {
    if (!part || part.includes('.')) continue // the empty end, or a Key Binding JWT
    disclosures.set(await sha256b64url(part), decodeJson(part))
  }
  const selective = []

  function rebuild(value, path) {
    if (Array.isArray(value)) {
      const out = []
      value.forEach((item) => {
        if (item && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length === 1 && ARRAY_ELEMENT in item) {
          const disclosure = disclosures.get(item[ARRAY_ELEMENT])
          if (disclosure && disclosure.length === 2) {
            selective.push([...path, out.length])
            out.push(rebuild(disclosure[1], [...path, out.length]))
          }
        } else {
          out.push(rebuild(item, [...path, out.length]))
        }
      })
      return out
    }
    if (value && typeof value === 'object') {
      const out = {}
      for (const [name, item] of Object.entries(value)) {
        if (name !== SD && name !== '_sd_alg') out[name] = rebuild(item, [...path, name])
      }
      for (const digest of value[SD] || []) {
        const disclosure = disclosures.get(digest)
        if (disclosure && disclosure.length === 3) {
          selective.push([...path, disclosure[1]])
          out[disclosure[1]] = rebuild(disclosure[2], [...path, disclosure[1]])
        }
      }
      return out
    }
    return value
  }

  const claims = rebuild(payload, [])
  const always = Object.keys(payload).filter((name) => name !== SD && name !== '_sd_alg')
  return { payload, claims, selective, always }
}

/** Every leaf (a value that is not an object or array) as [path, value], in order. */
export function leaves(value, path = []) {
  if (Array.isArray(value)) return value.flatMap((item, i) => leaves(item, [...path, i]))
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([name, item]) => leaves(item, [...path, name]))
  }
  return [[path, value]]
}

// The order people read a resident card in; other claims follow alphabetically.
const READING_ORDER = [
  'family_name', 'given_name', 'birthdate', 'address', 'age_equal_or_over', 'resident_since',
  'election_id', 'eligible', 'district', 'age_over_18', 'verification',
]

export function byReadingOrder([a], [b]) {
  const rank = (path) => {
    const i = READING_ORDER.indexOf(String(path[0]))
    return i === -1 ? READING_ORDER.length : i
  }
  return rank(a) - rank(b) || a.join('.').localeCompare(b.join('.'), 'en', { numeric: true })
}

function startsWith(path, prefix) {
  return prefix.length <= path.length && prefix.every((step, i) => step === null || step === path[i])
}

/**
 * What a presentation of `claims` (DCQL paths) shares and withholds of a credential.
 * @returns {{shared: Array, withheld: Array}} leaves as [path, value]; technical claims are left out.
 */
export function shareSplit(read, requested) {
  const shared = []
  const withheld = []
  for (const [path, value] of leaves(read.claims)) {
    if (TECHNICAL.has(path[0])) continue
    const isSelective = read.selective.some((p) => startsWith(path, p))
    if (!isSelective) continue // issuer, type and dates travel with every presentation
    ;(requested.some((p) => startsWith(path, p)) ? shared : withheld).push([path, value])
  }
  // What is shared in the order the service asked for it; what stays in reading order.
  const asked = (path) => requested.findIndex((p) => startsWith(path, p))
  shared.sort((a, b) => asked(a[0]) - asked(b[0]) || byReadingOrder(a, b))
  withheld.sort(byReadingOrder)
  return { shared, withheld }
}
