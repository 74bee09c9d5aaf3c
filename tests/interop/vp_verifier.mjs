// @openid4vc/openid4vp (npm, pinned in tools/package.json) as the verifier against our wallet, served
// over HTTP on 127.0.0.1; @sd-jwt/sd-jwt-vc verifies the presentations it receives.
//   stdin: {"client_id", "x5c": [base64 DER, leaf first], "leaf_jwk" (private), "response_mode",
//           "dcql_query", "issuer_jwk", "default_aud"?}
//   stdout, line 1: {"link", "request_uri"}   (the wallet may now fetch the request object)
//   stdout, line 2: {"ok": true, "claims": {query id: disclosed payload}, "jwe_header"?, "vp_token_shape"}
//                   or {"error": ...} once the wallet's answer arrived (the process then exits)
import crypto from 'node:crypto'
import http from 'node:http'
import { baseCallbacks, generateKey, jose, load } from './_lib.mjs'

const vp = await load('@openid4vc/openid4vp')
const { SDJwtVcInstance } = await load('@sd-jwt/sd-jwt-vc')
const { digest } = await load('@sd-jwt/crypto-nodejs')

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const config = JSON.parse(Buffer.concat(chunks).toString('utf8'))

function verifierFor(jwk, hash) {
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' })
  return (data, signature) =>
    crypto.verify(hash, Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'))
}

const encryption = config.response_mode === 'direct_post.jwt' ? await generateKey() : undefined
if (encryption) {
  encryption.publicJwk = { ...encryption.publicJwk, kid: 'enc-1', use: 'enc', alg: 'ECDH-ES' }
  encryption.privateJwk = { ...encryption.privateJwk, kid: 'enc-1' }
}
const callbacks = baseCallbacks([config.leaf_jwk], {
  decryptJwe: async (jwe) => {
    const key = await jose.importJWK(encryption.privateJwk, 'ECDH-ES')
    const { plaintext, protectedHeader } = await jose.compactDecrypt(jwe, key, {
      keyManagementAlgorithms: ['ECDH-ES'], contentEncryptionAlgorithms: ['A128GCM', 'A256GCM'],
    })
    decryptJwe.header = protectedHeader
    return { decrypted: true, decryptionJwk: encryption.publicJwk, payload: new TextDecoder().decode(plaintext) }
  },
})
const decryptJwe = callbacks.decryptJwe

const server = http.createServer()
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${server.address().port}`
const clientMetadata = {
  client_name: 'oid4vc-ts verifier',
  vp_formats_supported: { 'dc+sd-jwt': { 'sd-jwt_alg_values': ['ES256K', 'ES256'], 'kb-jwt_alg_values': ['ES256'] } },
}
if (encryption) {
  clientMetadata.jwks = { keys: [encryption.publicJwk] }
  clientMetadata.encrypted_response_enc_values_supported = ['A128GCM', 'A256GCM']
}
const nonce = crypto.randomBytes(16).toString('base64url')
const state = crypto.randomBytes(16).toString('base64url')
const payload = {
  response_type: 'vp_token',
  client_id: config.client_id,
  response_uri: `${base}/response`,
  response_mode: config.response_mode,
  nonce,
  state,
  dcql_query: config.dcql_query,
  client_metadata: clientMetadata,
}
const created = await vp.createOpenid4vpAuthorizationRequest({
  authorizationRequestPayload: payload,
  jar: {
    requestUri: `${base}/request`,
    jwtSigner: { method: 'x5c', x5c: config.x5c, alg: 'ES256', publicJwk: { ...config.leaf_jwk, d: undefined } },
    expiresInSeconds: 300,
    // OpenID4VP 1.0 §5.8: under static discovery the Request Object is addressed to
    // https://self-issued.me/v2; the library's default aud is the request_uri ("default_aud" keeps it).
    additionalJwtPayload: config.default_aud ? undefined : { aud: 'https://self-issued.me/v2' },
  },
  callbacks,
})

async function readBody(req) {
  const parts = []
  for await (const part of req) parts.push(part)
  return Buffer.concat(parts).toString('utf8')
}

function finish(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`)
  server.close()
  setTimeout(() => process.exit(0), 50)
}

server.on('request', async (req, res) => {
  try {
    if (req.url === '/request') {
      res.writeHead(200, { 'Content-Type': 'application/oauth-authz-req+jwt' })
      res.end(created.jar.authorizationRequestJwt)
      return
    }
    if (req.url === '/response' && req.method === 'POST') {
      const form = Object.fromEntries(new URLSearchParams(await readBody(req)))
      try {
        const parsed = await vp.parseOpenid4vpAuthorizationResponse({
          authorizationResponse: form,
          authorizationRequestPayload: payload,
          callbacks,
        })
        const claims = {}
        const shape = {}
        for (const [id, presentations] of Object.entries(parsed.dcql.presentations)) {
          shape[id] = Array.isArray(form.vp_token ? JSON.parse(form.vp_token)[id] : presentations) ? 'array' : 'string'
          const token = presentations[0]
          const alg = JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')).alg
          const sdjwt = new SDJwtVcInstance({
            hasher: digest,
            verifier: verifierFor(config.issuer_jwk, 'sha256'),
            kbVerifier: (data, sig, p) => verifierFor(p.cnf.jwk, 'sha256')(data, sig),
            loadTypeMetadataFormat: false,
          })
          const verified = await sdjwt.verify(token, { keyBindingNonce: nonce })
          if (!verified.kb || verified.kb.payload.aud !== config.client_id) throw new Error('KB-JWT aud is not our client_id')
          if (alg !== verified.header.alg) throw new Error('alg changed')
          claims[id] = verified.payload
        }
        res.writeHead(200, { 'Content-Type': 'application/json' })
        res.end('{}')
        finish({ ok: true, claims, state: parsed.authorizationResponsePayload.state === state,
                 jwe_header: decryptJwe.header, vp_token_shape: shape })
      } catch (error) {
        res.writeHead(400, { 'Content-Type': 'application/json' })
        res.end(JSON.stringify({ error: 'invalid_request' }))
        finish({ error: String(error?.message ?? error), detail: error?.errorResponse })
      }
      return
    }
    res.writeHead(404)
    res.end()
  } catch (error) {
    res.writeHead(500)
    res.end()
    finish({ error: String(error?.message ?? error) })
  }
})

process.stdout.write(`${JSON.stringify({ link: created.authorizationRequest, request_uri: `${base}/request` })}\n`)
