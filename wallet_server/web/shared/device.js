// The device key: a WebCrypto P-256 key pair made non-extractable, kept in IndexedDB. The private
// key never leaves the browser's key store; the page signs with it (ES256, raw R || S) and sends
// only signatures and the public JWK.

const DB_NAME = 'vcsdk-wallet'
const STORE = 'device'
const CURRENT = 'current'
// Version 2 adds the ballot page's store: per election, the pending token, the token and the receipt.
const BALLOTS = 'ballots'
// Version 3 adds the credential copies' keys: one non-extractable P-256 key per copy of the resident
// card, keyed by its JWK thumbprint (RFC 7638), so that copies shown to different services share no key.
const COPIES = 'copies'
const ENCODER = new TextEncoder()

export function b64url(bytes) {
  let text = ''
  for (const b of new Uint8Array(bytes)) text += String.fromCharCode(b)
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export function b64urlDecode(text) {
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((text.length + 3) % 4)
  const raw = atob(padded)
  const out = new Uint8Array(raw.length)
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i)
  return out
}

export function b64urlJson(value) {
  return b64url(ENCODER.encode(JSON.stringify(value)))
}

export function randomId(bytes = 16) {
  return b64url(crypto.getRandomValues(new Uint8Array(bytes)))
}

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 3)
    request.onupgradeneeded = () => {
      for (const name of [STORE, BALLOTS, COPIES]) {
        if (!request.result.objectStoreNames.contains(name)) request.result.createObjectStore(name)
      }
    }
    request.onsuccess = () => resolve(request.result)
    request.onerror = () => reject(request.error)
  })
}

async function withStore(mode, action, store = STORE) {
  const db = await openDb()
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(store, mode)
      const request = action(tx.objectStore(store))
      tx.oncomplete = () => resolve(request.result)
      tx.onerror = () => reject(tx.error)
      tx.onabort = () => reject(tx.error)
    })
  } finally {
    db.close()
  }
}

/** The stored device record ({keyPair, publicJwk, deviceId, residentId, name, ...}) or null. */
export async function loadDevice() {
  return (await withStore('readonly', (store) => store.get(CURRENT))) || null
}

export async function saveDevice(record) {
  await withStore('readwrite', (store) => store.put(record, CURRENT))
}

export async function forgetDevice() {
  await withStore('readwrite', (store) => store.delete(CURRENT))
  await withStore('readwrite', (store) => store.clear(), BALLOTS)
  await withStore('readwrite', (store) => store.clear(), COPIES)
}

/** The ballot page's record for one election (kept on this phone only), or null. */
export async function loadBallot(electionId) {
  return (await withStore('readonly', (store) => store.get(electionId), BALLOTS)) || null
}

export async function saveBallot(record) {
  await withStore('readwrite', (store) => store.put(record, record.election.election_id), BALLOTS)
}

export async function listBallots() {
  return withStore('readonly', (store) => store.getAll(), BALLOTS)
}

/** A new P-256 key pair whose private half cannot be exported, and its public JWK. */
export async function newDeviceKey() {
  const keyPair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify'])
  const jwk = await crypto.subtle.exportKey('jwk', keyPair.publicKey)
  return { keyPair, publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } }
}

/** The RFC 7638 thumbprint of a public P-256 JWK (SHA-256, base64url). */
export async function jwkThumbprint(jwk) {
  return sha256b64url(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
}

/** `count` fresh non-extractable P-256 keys, one per credential copy (not stored yet: see saveCopyKeys). */
export async function newCopyKeys(count) {
  const keys = []
  for (let i = 0; i < count; i++) keys.push(await newDeviceKey())
  return keys
}

/** Keep copy keys ({keyPair, publicJwk}) in IndexedDB under their thumbprints. */
export async function saveCopyKeys(keys) {
  const records = []
  for (const key of keys) records.push([await jwkThumbprint(key.publicJwk), key])
  await withStore('readwrite', (store) => {
    let last = null
    for (const [thumbprint, key] of records) last = store.put({ ...key, thumbprint }, thumbprint)
    return last
  }, COPIES)
}

/** The thumbprints of every copy key this phone holds. */
export async function copyKeyThumbprints() {
  return withStore('readonly', (store) => store.getAllKeys(), COPIES)
}

export class MissingKeyError extends Error {
  constructor() {
    super('copy_key_missing')
    this.name = 'MissingKeyError'
    this.code = 'copy_key_missing'
  }
}

/**
 * The private key to sign a signing input the server handed out with: the device key when `jwk` is
 * absent or the device's own, else the copy key whose public JWK it is (found by thumbprint).
 */
export async function signingKey(device, jwk) {
  if (!jwk || (jwk.x === device.publicJwk.x && jwk.y === device.publicJwk.y)) return device.keyPair.privateKey
  const thumbprint = await jwkThumbprint(jwk)
  const record = await withStore('readonly', (store) => store.get(thumbprint), COPIES)
  if (!record) throw new MissingKeyError()
  return record.keyPair.privateKey
}

/** ES256 over the ASCII bytes of `text`: base64url of the raw 64-byte signature (R || S). */
export async function signAscii(privateKey, text) {
  const signature = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, privateKey, ENCODER.encode(text))
  return b64url(signature)
}

/** A compact JWS (ES256) signed with the device key. */
export async function signJws(privateKey, header, payload) {
  const signingInput = `${b64urlJson({ alg: 'ES256', ...header })}.${b64urlJson(payload)}`
  return `${signingInput}.${await signAscii(privateKey, signingInput)}`
}

export async function sha256b64url(text) {
  return b64url(await crypto.subtle.digest('SHA-256', ENCODER.encode(text)))
}

/** An RFC 9449 DPoP proof for one request. */
export async function dpopProof(device, method, url, accessToken) {
  const claims = {
    htm: method,
    htu: url.split('?')[0].split('#')[0],
    iat: Math.floor(Date.now() / 1000),
    jti: randomId(),
  }
  if (accessToken) claims.ath = await sha256b64url(accessToken)
  return signJws(device.keyPair.privateKey, { typ: 'dpop+jwt', jwk: device.publicJwk }, claims)
}
