// Shared by the interop scripts: loads the pinned npm packages from tools/node_modules and provides
// the callbacks @openid4vc/* asks of its host (hashing, randomness, JWT signing and verification
// with jose, JWE with jose). Each script reads one JSON request on stdin and writes one JSON answer.
import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const toolsDir = process.env.VCSDK_TOOLS_DIR || path.resolve(here, '..', '..', 'tools')
const requireFromTools = createRequire(path.join(toolsDir, 'package.json'))

export async function load(name) {
  return import(pathToFileURL(requireFromTools.resolve(name)).href)
}

export const jose = await load('jose')
export const utils = await load('@openid4vc/utils')
export const oauth2 = await load('@openid4vc/oauth2')

// Our side is served over plain http on 127.0.0.1.
utils.setGlobalConfig({ allowInsecureUrls: true })

export async function readRequest() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

export function answer(value) {
  process.stdout.write(JSON.stringify(value))
}

export async function main(run) {
  try {
    answer(await run(await readRequest()))
  } catch (error) {
    const detail = { error: String(error?.message ?? error), name: error?.name, stack: String(error?.stack ?? "").split("\n").slice(0, 6).join(" | ") }
    if (error?.errorResponse) detail.errorResponse = error.errorResponse
    if (error?.response?.status) detail.status = error.response.status
    answer(detail)
  }
}

export async function generateKey(crv = 'P-256') {
  const { privateKey } = await jose.generateKeyPair(crv === 'P-256' ? 'ES256' : 'ECDH-ES', { crv, extractable: true })
  const privateJwk = await jose.exportJWK(privateKey)
  const { d, ...publicJwk } = privateJwk
  return { privateJwk, publicJwk }
}

export function thumbprint(jwk) {
  return jose.calculateJwkThumbprint(jwk, 'sha256')
}

/** A signJwt callback signing with whichever of `privateJwks` matches the signer's public key. */
export function signJwtWith(privateJwks) {
  return async (signer, { header, payload }) => {
    let publicJwk
    if (signer.method === 'jwk') publicJwk = signer.publicJwk
    else if (signer.method === 'x5c' || signer.method === 'custom') publicJwk = signer.publicJwk ?? privateJwks[0]
    else throw new Error(`signer method ${signer.method} is not supported here`)
    const want = await thumbprint({ kty: publicJwk.kty, crv: publicJwk.crv, x: publicJwk.x, y: publicJwk.y })
    let privateJwk
    for (const jwk of privateJwks) {
      if ((await thumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y })) === want) privateJwk = jwk
    }
    if (!privateJwk) throw new Error('no private key for the signer')
    const key = await jose.importJWK(privateJwk, signer.alg)
    const jwt = await new jose.SignJWT(payload).setProtectedHeader(header).sign(key)
    const { d, ...pub } = privateJwk
    return { jwt, signerJwk: pub }
  }
}

export async function verifyJwt(signer, { compact }) {
  let jwk
  if (signer.method === 'jwk') jwk = signer.publicJwk
  else if (signer.method === 'x5c') {
    const cert = new crypto.X509Certificate(Buffer.from(signer.x5c[0], 'base64'))
    jwk = cert.publicKey.export({ format: 'jwk' })
  } else throw new Error(`signer method ${signer.method} is not supported here`)
  try {
    await jose.compactVerify(compact, await jose.importJWK(jwk, signer.alg))
    return { verified: true, signerJwk: jwk }
  } catch {
    return { verified: false }
  }
}

export function baseCallbacks(privateJwks, extra = {}) {
  return {
    fetch,
    hash: (data, alg) => crypto.createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
    generateRandom: (bytes) => crypto.randomBytes(bytes),
    signJwt: signJwtWith(privateJwks),
    verifyJwt,
    encryptJwe: async (encryptor, payload) => {
      const key = await jose.importJWK(encryptor.publicJwk, encryptor.alg)
      const header = { alg: encryptor.alg, enc: encryptor.enc }
      if (encryptor.publicJwk.kid) header.kid = encryptor.publicJwk.kid
      if (encryptor.apu) header.apu = encryptor.apu
      if (encryptor.apv) header.apv = encryptor.apv
      const jwe = await new jose.CompactEncrypt(new TextEncoder().encode(payload)).setProtectedHeader(header).encrypt(key)
      return { jwe, encryptionJwk: encryptor.publicJwk }
    },
    decryptJwe: async () => ({ decrypted: false }),
    ...extra,
  }
}
