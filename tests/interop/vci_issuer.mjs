// @openid4vc/openid4vci + @openid4vc/oauth2 (npm, pinned in tools/package.json) as the credential
// issuer and its authorization server against our wallet, served over HTTP on 127.0.0.1; the
// credential is an SD-JWT VC made by @sd-jwt/sd-jwt-vc.
//   stdin: {"grant": "pre-authorized" | "authorization_code", "claims": {...}, "vct", "disclosable": [names],
//           "deferred"?: true, "attestation_root"?: base64 DER of the wallet provider's root (then client attestation is required)}
//   stdout, line 1: {"offer", "issuer", "issuer_jwk"}
//   stdout, line 2, after the credential answer: {"ok": true, "dpop_bound", "pkce_method"?, "par"?,
//                   "holder_jwk", "proof_typ"} or {"error"}
import crypto from 'node:crypto'
import http from 'node:http'
import { baseCallbacks, generateKey, load, oauth2, thumbprint, utils } from './_lib.mjs'

const vci = await load('@openid4vc/openid4vci')
const { SDJwtVcInstance } = await load('@sd-jwt/sd-jwt-vc')
const { digest, generateSalt } = await load('@sd-jwt/crypto-nodejs')

const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const config = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const facts = {}
const tokenKey = await generateKey()
const credentialKey = await generateKey()
const callbacks = baseCallbacks([tokenKey.privateJwk, credentialKey.privateJwk], {
  clientAuthentication: oauth2.clientAuthenticationAnonymous(),
})
if (config.attestation_root) {
  // Wallet attestations are trusted when their x5c chain ends at the provider's root (the library
  // leaves chain validation to its host); other JWTs as before.
  const root = new crypto.X509Certificate(Buffer.from(config.attestation_root, 'base64'))
  const plain = callbacks.verifyJwt
  callbacks.verifyJwt = async (signer, jwt) => {
    if (signer.method === 'x5c') {
      const chain = signer.x5c.map((c) => new crypto.X509Certificate(Buffer.from(c, 'base64')))
      const linked = chain.every((cert, i) => cert.verify((chain[i + 1] ?? root).publicKey))
      if (!linked) return { verified: false }
      facts.attestation_chain = chain.length
    }
    return plain(signer, jwt)
  }
}
const issuer = new vci.Openid4vciIssuer({ callbacks })
const as = new oauth2.Oauth2AuthorizationServer({ callbacks })
const rs = new oauth2.Oauth2ResourceServer({ callbacks })

const server = http.createServer()
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${server.address().port}`
const asMetadata = as.createAuthorizationServerMetadata({
  issuer: base,
  token_endpoint: `${base}/token`,
  authorization_endpoint: `${base}/authorize`,
  pushed_authorization_request_endpoint: `${base}/par`,
  require_pushed_authorization_requests: true,
  jwks_uri: `${base}/jwks`,
  response_types_supported: ['code'],
  dpop_signing_alg_values_supported: ['ES256'],
  code_challenge_methods_supported: ['S256'],
  authorization_response_iss_parameter_supported: true,
  grant_types_supported: [oauth2.authorizationCodeGrantIdentifier, oauth2.preAuthorizedCodeGrantIdentifier],
  'pre-authorized_grant_anonymous_access_supported': true,
  ...(config.attestation_root ? { token_endpoint_auth_methods_supported: ['attest_jwt_client_auth'] } : {}),
})
const configurations = {
  Resident: {
    format: 'dc+sd-jwt',
    vct: config.vct,
    scope: 'Resident',
    credential_signing_alg_values_supported: ['ES256'],
    cryptographic_binding_methods_supported: ['jwk'],
    proof_types_supported: { jwt: { proof_signing_alg_values_supported: ['ES256'] } },
  },
}
const issuerMetadataDoc = issuer.createCredentialIssuerMetadata({
  credential_issuer: base,
  credential_endpoint: `${base}/credential`,
  nonce_endpoint: `${base}/nonce`,
  deferred_credential_endpoint: `${base}/deferred_credential`,
  credential_configurations_supported: configurations,
})
const issuerMetadata = {
  credentialIssuer: issuerMetadataDoc,
  authorizationServers: [asMetadata],
  originalDraftVersion: vci.Openid4vciVersion.V1,
  knownCredentialConfigurations: configurations,
}
const preAuthorizedCode = crypto.randomBytes(16).toString('base64url')
const grants = config.grant === 'pre-authorized'
  ? { [oauth2.preAuthorizedCodeGrantIdentifier]: { 'pre-authorized_code': preAuthorizedCode } }
  : { authorization_code: { issuer_state: 'their-state' } }
const offer = await issuer.createCredentialOffer({ credentialConfigurationIds: ['Resident'], grants, issuerMetadata })

const nonces = new Set()
const deferredHolders = new Map() // transaction_id -> holder key
const pars = new Map() // request_uri -> verified PAR
const codes = new Map() // code -> PAR

function finish(result) {
  process.stdout.write(`${JSON.stringify(result)}\n`)
  server.close()
  setTimeout(() => process.exit(0), 50)
}

function requestLike(req) {
  return { method: req.method, url: `${base}${req.url}`, headers: new Headers(req.headers) }
}

async function body(req) {
  const parts = []
  for await (const part of req) parts.push(part)
  return Buffer.concat(parts).toString('utf8')
}

function json(res, status, value, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers })
  res.end(JSON.stringify(value))
}

async function issueCredential(holderJwk) {
  const key = crypto.createPrivateKey({ key: credentialKey.privateJwk, format: 'jwk' })
  const sdjwt = new SDJwtVcInstance({
    hasher: digest,
    saltGenerator: generateSalt,
    signAlg: 'ES256',
    signer: (data) => crypto.sign('sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url'),
  })
  return sdjwt.issue(
    { iss: base, iat: Math.floor(Date.now() / 1000), vct: config.vct, cnf: { jwk: holderJwk }, ...config.claims },
    { _sd: config.disclosable },
    { header: { typ: 'dc+sd-jwt', kid: 'credential-key' } },
  )
}

const routes = {
  'GET /.well-known/openid-credential-issuer': (req, res) => json(res, 200, issuerMetadataDoc),
  'GET /.well-known/oauth-authorization-server': (req, res) => json(res, 200, asMetadata),
  'GET /jwks': (req, res) => json(res, 200, { keys: [{ ...tokenKey.publicJwk, kid: 'token-key' }] }),
  'POST /par': async (req, res) => {
    const form = Object.fromEntries(new URLSearchParams(await body(req)))
    const parsed = await as.parsePushedAuthorizationRequest({ authorizationRequest: form, request: requestLike(req) })
    const verified = await as.verifyPushedAuthorizationRequest({
      authorizationRequest: parsed.authorizationRequest,
      authorizationServerMetadata: asMetadata,
      request: requestLike(req),
      dpop: parsed.dpop ? { ...parsed.dpop, required: false, allowedSigningAlgs: ['ES256'] } : undefined,
      clientAttestation: config.attestation_root ? { ...parsed.clientAttestation, required: true } : undefined,
    })
    facts.attestation_sub = verified.clientAttestation?.clientAttestation?.payload?.sub
    facts.par = true
    facts.pkce_method = parsed.authorizationRequest.code_challenge_method
    facts.scope = parsed.authorizationRequest.scope
    facts.issuer_state = parsed.authorizationRequest.issuer_state
    const requestUri = `urn:ietf:params:oauth:request_uri:${crypto.randomBytes(16).toString('base64url')}`
    pars.set(requestUri, { request: parsed.authorizationRequest, dpopJkt: verified.dpop?.jwkThumbprint })
    json(res, 201, as.createPushedAuthorizationResponse({ requestUri, expiresInSeconds: 60 }).pushedAuthorizationResponse)
  },
  'GET /authorize': async (req, res) => {
    const query = new URL(`${base}${req.url}`).searchParams
    const par = pars.get(query.get('request_uri'))
    pars.delete(query.get('request_uri'))
    if (!par || par.request.client_id !== query.get('client_id')) return json(res, 400, { error: 'invalid_request_uri' })
    const code = crypto.randomBytes(16).toString('base64url')
    codes.set(code, par)
    const redirect = new URL(par.request.redirect_uri)
    redirect.searchParams.set('code', code)
    if (par.request.state) redirect.searchParams.set('state', par.request.state)
    redirect.searchParams.set('iss', base)
    res.writeHead(302, { Location: redirect.toString() })
    res.end()
  },
  'POST /token': async (req, res) => {
    const form = Object.fromEntries(new URLSearchParams(await body(req)))
    const parsed = as.parseAccessTokenRequest({ accessTokenRequest: form, request: requestLike(req) })
    let verified
    let subject
    if (parsed.grant.grantType === oauth2.preAuthorizedCodeGrantIdentifier) {
      verified = await as.verifyPreAuthorizedCodeAccessTokenRequest({
        grant: parsed.grant, accessTokenRequest: parsed.accessTokenRequest, request: requestLike(req),
        dpop: { ...parsed.dpop, required: true, allowedSigningAlgs: ['ES256'] },
        authorizationServerMetadata: asMetadata, expectedPreAuthorizedCode: preAuthorizedCode,
      })
      subject = preAuthorizedCode
    } else {
      const par = codes.get(parsed.grant.code)
      codes.delete(parsed.grant.code)
      if (!par) return json(res, 400, { error: 'invalid_grant' })
      verified = await as.verifyAuthorizationCodeAccessTokenRequest({
        grant: parsed.grant, accessTokenRequest: parsed.accessTokenRequest, request: requestLike(req),
        expectedCode: parsed.grant.code,
        pkce: { codeChallenge: par.request.code_challenge, codeChallengeMethod: par.request.code_challenge_method,
                codeVerifier: parsed.pkceCodeVerifier },
        dpop: { ...parsed.dpop, required: true, allowedSigningAlgs: ['ES256'], expectedJwkThumbprint: par.dpopJkt },
        clientAttestation: config.attestation_root ? { ...parsed.clientAttestation, required: true } : undefined,
        authorizationServerMetadata: asMetadata,
      })
      subject = parsed.grant.code
    }
    facts.dpop_bound = Boolean(verified.dpop)
    const response = await as.createAccessTokenResponse({
      audience: base, authorizationServer: base, expiresInSeconds: 300, subject,
      signer: { method: 'jwk', alg: 'ES256', publicJwk: { ...tokenKey.publicJwk, kid: 'token-key' } },
      dpop: verified.dpop, scope: 'Resident',
    })
    json(res, 200, response)
  },
  'POST /deferred_credential': async (req, res) => {
    await rs.verifyResourceRequest({
      authorizationServers: [asMetadata], resourceServer: base, request: requestLike(req),
      allowedAuthenticationSchemes: [oauth2.SupportedAuthenticationScheme.DPoP],
    })
    const { deferredCredentialRequest } = issuer.parseDeferredCredentialRequest({
      deferredCredentialRequest: JSON.parse(await body(req)),
    })
    const holderJwk = deferredHolders.get(deferredCredentialRequest.transaction_id)
    deferredHolders.delete(deferredCredentialRequest.transaction_id)
    if (!holderJwk) return json(res, 400, { error: 'invalid_transaction_id' })
    const credential = await issueCredential(holderJwk)
    json(res, 200, issuer.createDeferredCredentialResponse({ credentials: [{ credential }] }))
    finish({ ok: true, deferred: true, ...facts })
  },
  'POST /nonce': async (req, res) => {
    const nonce = crypto.randomBytes(16).toString('base64url')
    nonces.add(nonce)
    json(res, 200, issuer.createNonceResponse({ cNonce: nonce }))
  },
  'POST /credential': async (req, res) => {
    const { dpop } = await rs.verifyResourceRequest({
      authorizationServers: [asMetadata], resourceServer: base, request: requestLike(req),
      allowedAuthenticationSchemes: [oauth2.SupportedAuthenticationScheme.DPoP],
    })
    const parsed = issuer.parseCredentialRequest({ issuerMetadata, credentialRequest: JSON.parse(await body(req)) })
    const jwt = parsed.proofs?.jwt?.[0]
    if (!jwt) return json(res, 400, { error: 'invalid_proof' })
    const payloadNonce = JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')).nonce
    if (!nonces.delete(payloadNonce)) return json(res, 400, { error: 'invalid_nonce' })
    const proof = await issuer.verifyCredentialRequestJwtProof({ issuerMetadata, jwt, expectedNonce: payloadNonce })
    const holderJwk = proof.signer.publicJwk
    facts.dpop_jkt = dpop ? await thumbprint(dpop.jwk) : undefined
    facts.holder_jwk = holderJwk
    facts.proof_typ = proof.header.typ
    facts.request_keys = Object.keys(parsed.credentialRequest)
    if (config.deferred) {
      // §9: not ready yet; the wallet comes back to the Deferred Credential Endpoint.
      const transactionId = crypto.randomBytes(16).toString('base64url')
      deferredHolders.set(transactionId, holderJwk)
      json(res, 202, issuer.createCredentialResponse({ transactionId, interval: 1, credentialRequest: parsed }))
      return
    }
    const credential = await issueCredential(holderJwk)
    const credentialResponse = issuer.createCredentialResponse({ credentials: [{ credential }], credentialRequest: parsed })
    json(res, 200, credentialResponse)
    finish({ ok: true, ...facts, dpop_jkt: dpop ? await thumbprint(dpop.jwk) : undefined, holder_jwk: holderJwk,
             proof_typ: proof.header.typ, request_keys: Object.keys(parsed.credentialRequest) })
  },
}

server.on('request', async (req, res) => {
  const route = routes[`${req.method} ${req.url.split('?')[0]}`]
  if (!route) return json(res, 404, { error: 'not_found' })
  try {
    await route(req, res)
  } catch (error) {
    const response = error?.errorResponse ?? { error: 'invalid_request', error_description: String(error?.message ?? error) }
    const status = error?.status ?? 400
    json(res, status, response, error?.headers ?? {})
    if (req.url.startsWith('/credential')) finish({ error: String(error?.message ?? error), detail: error?.errorResponse })
  }
})

setTimeout(() => finish({ error: 'timed out' }), 90_000).unref()
process.stdout.write(`${JSON.stringify({ offer: offer.credentialOffer, issuer: base, issuer_jwk: credentialKey.publicJwk })}\n`)
