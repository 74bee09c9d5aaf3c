// @openid4vc/openid4vp (npm, pinned in tools/package.json) as the wallet against our verifier;
// @sd-jwt/sd-jwt-vc makes the key-bound presentations.
//   {"link": "openid4vp://?...", "credentials": {"<ref>": "<sd-jwt vc>"}, "holder_jwks": {"<ref>": private jwk},
//    "wallet_metadata"?: {...}, "claim_set"?: index, "tamper"?: "response_uri" | "nonce"}
//   -> {"status", "body", "client", "response_mode", "request", "jwe_header"?}
// The wallet answers each credential query with the first credential of a matching vct, disclosing
// the claims of the chosen claim set (the first one unless "claim_set" says otherwise).
import crypto from 'node:crypto'
import { baseCallbacks, generateKey, load, main } from './_lib.mjs'

const vp = await load('@openid4vc/openid4vp')
const { SDJwtVcInstance } = await load('@sd-jwt/sd-jwt-vc')
const { digest, generateSalt } = await load('@sd-jwt/crypto-nodejs')

function sanOf(certificateB64) {
  const cert = new crypto.X509Certificate(Buffer.from(certificateB64, 'base64'))
  const names = (cert.subjectAltName ?? '').split(', ')
  return {
    sanDnsNames: names.filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4)),
    sanUriNames: names.filter((n) => n.startsWith('URI:')).map((n) => n.slice(4)),
  }
}

function frameFor(paths) {
  const frame = {}
  for (const path of paths) {
    let node = frame
    path.forEach((step, i) => {
      if (i === path.length - 1) node[step] = true
      else node = node[step] = node[step] === true ? {} : (node[step] ?? {})
    })
  }
  return frame
}

function vctOf(token) {
  return JSON.parse(Buffer.from(token.split('~')[0].split('.')[1], 'base64url').toString('utf8')).vct
}

await main(async (request) => {
  const callbacks = baseCallbacks([], { getX509CertificateMetadata: sanOf })
  const client = new vp.Openid4vpClient({ callbacks })
  const parsed = client.parseOpenid4vpAuthorizationRequest({ authorizationRequest: request.link })
  const resolved = await client.resolveOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: parsed.params,
    wallet: request.wallet_metadata ? { metadata: request.wallet_metadata } : undefined,
  })
  const payload = resolved.authorizationRequestPayload
  const query = resolved.dcql.query
  const audience = payload.client_id
  const vpToken = {}
  for (const cq of query.credentials) {
    const ref = Object.keys(request.credentials).find((r) => (cq.meta?.vct_values ?? []).includes(vctOf(request.credentials[r])))
    if (!ref) throw new Error(`no credential for query ${cq.id}`)
    let claims = cq.claims ?? []
    if (cq.claim_sets) {
      const chosen = cq.claim_sets[request.claim_set ?? 0]
      claims = claims.filter((c) => chosen.includes(c.id))
    }
    const holder = request.holder_jwks[ref]
    const key = crypto.createPrivateKey({ key: holder, format: 'jwk' })
    const sdjwt = new SDJwtVcInstance({
      hasher: digest,
      saltGenerator: generateSalt,
      kbSignAlg: 'ES256',
      kbSigner: (data) => crypto.sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url'),
    })
    const nonce = request.tamper === 'nonce' ? 'not-the-nonce' : payload.nonce
    const presentation = await sdjwt.present(request.credentials[ref], frameFor(claims.map((c) => c.path)), {
      kb: { payload: { aud: audience, nonce, iat: Math.floor(Date.now() / 1000) } },
    })
    vpToken[cq.id] = [presentation]
  }
  const jarm = payload.response_mode === 'direct_post.jwt'
    ? {
        encryption: { nonce: crypto.randomBytes(16).toString('base64url') },
        serverMetadata: {
          authorization_signing_alg_values_supported: ['ES256'],
          authorization_encryption_alg_values_supported: ['ECDH-ES'],
          authorization_encryption_enc_values_supported: ['A128GCM', 'A256GCM'],
        },
      }
    : undefined
  const response = await client.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: payload,
    authorizationResponsePayload: { vp_token: vpToken },
    jarm,
  })
  const responseUri = request.tamper === 'response_uri' ? request.other_response_uri : payload.response_uri
  const submitted = await client.submitOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: { response_uri: responseUri },
    authorizationResponsePayload: response.authorizationResponsePayload,
    jarm: response.jarm ? { responseJwt: response.jarm.responseJwt } : undefined,
  })
  const text = await submitted.response.text()
  let body
  try { body = JSON.parse(text) } catch { body = text }
  const out = {
    status: submitted.response.status,
    body,
    client: { prefix: resolved.client.prefix, identifier: resolved.client.identifier },
    response_mode: submitted.responseMode,
    request: payload,
    version: resolved.version,
  }
  if (response.jarm) out.jwe_header = JSON.parse(Buffer.from(response.jarm.responseJwt.split('.')[0], 'base64url').toString('utf8'))
  return out
})
