// @openid4vc/openid4vci (npm, pinned in tools/package.json) as the wallet against our issuer.
//   {"offer": "openid-credential-offer://...", "flow": "pre-authorized" | "authorization_code",
//    "tx_code"?, "client_id", "redirect_uri",
//    "attestation"?: {"issuer", "x5c": [provider chain], "provider_jwk" (private)}}
//   -> {"token_type", "credentials": [...], "notification_id"?, "holder_jwk", "dpop_jkt",
//       "authorization_server", "refresh_token"?}
// The authorization step follows the authorization URL like a browser (our test issuer signs the
// resident in at once and redirects).
import { baseCallbacks, generateKey, load, main, oauth2, thumbprint } from './_lib.mjs'

const vci = await load('@openid4vc/openid4vci')

await main(async (request) => {
  const dpopKey = await generateKey()
  const holderKey = await generateKey()
  const instanceKey = await generateKey()
  const privateJwks = [dpopKey.privateJwk, holderKey.privateJwk, instanceKey.privateJwk]
  if (request.attestation) privateJwks.push(request.attestation.provider_jwk)
  const callbacks = baseCallbacks(privateJwks)
  if (request.attestation) {
    // The wallet provider's attestation of this wallet instance, signed with the provider's
    // certificate chain in x5c (HAIP), made by their createClientAttestationJwt; their client
    // then adds the attestation and a fresh PoP to the PAR and token requests.
    const { provider_jwk: providerJwk, x5c, issuer } = request.attestation
    const { d, ...providerPublic } = providerJwk
    const clientAttestationJwt = await oauth2.createClientAttestationJwt({
      callbacks,
      issuer,
      clientId: request.client_id,
      confirmation: { jwk: instanceKey.publicJwk },
      expiresAt: new Date(Date.now() + 3600_000),
      signer: { method: 'x5c', x5c, alg: 'ES256', publicJwk: providerPublic },
    })
    callbacks.clientAuthentication = oauth2.clientAuthenticationClientAttestationJwt({ clientAttestationJwt, callbacks })
  } else {
    callbacks.clientAuthentication = oauth2.clientAuthenticationNone({ clientId: request.client_id })
  }
  const client = new vci.Openid4vciClient({ callbacks })
  const offer = await client.resolveCredentialOffer(request.offer)
  const issuerMetadata = await client.resolveIssuerMetadata(offer.credential_issuer)
  const configurationId = offer.credential_configuration_ids[0]
  const dpopSigner = { method: 'jwk', alg: 'ES256', publicJwk: dpopKey.publicJwk }

  let token
  if (request.flow === 'pre-authorized') {
    token = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer: offer,
      issuerMetadata,
      txCode: request.tx_code,
      dpop: { signer: dpopSigner },
    })
  } else {
    const scope = vci.extractScopesForCredentialConfigurationIds({
      credentialConfigurationIds: offer.credential_configuration_ids,
      issuerMetadata,
      throwOnConfigurationWithoutScope: true,
    })?.join(' ')
    const authorization = await client.createAuthorizationRequestUrlFromOffer({
      clientId: request.client_id,
      credentialOffer: offer,
      issuerMetadata,
      scope,
      redirectUri: request.redirect_uri,
      dpop: { signer: dpopSigner },
    })
    // The browser: open the authorization URL, take the redirect back to the wallet.
    const browsed = await fetch(authorization.authorizationRequestUrl, { redirect: 'manual' })
    const location = browsed.headers.get('location')
    if (browsed.status !== 302 || !location) throw new Error(`authorization answered ${browsed.status}: ${await browsed.text()}`)
    const authorizationServerMetadata = issuerMetadata.authorizationServers[0]
    const response = client.parseAndVerifyAuthorizationResponseRedirectUrl({ authorizationServerMetadata, url: location })
    if (!response.code) throw new Error(`authorization error ${response.error}`)
    token = await client.retrieveAuthorizationCodeAccessTokenFromOffer({
      credentialOffer: offer,
      issuerMetadata,
      authorizationCode: response.code,
      pkceCodeVerifier: authorization.pkce?.codeVerifier,
      redirectUri: request.redirect_uri,
      dpop: authorization.dpop ?? { signer: dpopSigner },
    })
    token.pkce_method = authorization.pkce?.codeChallengeMethod
    token.authorization_url = authorization.authorizationRequestUrl
  }
  const { accessTokenResponse } = token
  const { c_nonce } = await client.requestNonce({ issuerMetadata })
  const { jwt } = await client.createCredentialRequestJwtProof({
    credentialConfigurationId: configurationId,
    issuerMetadata,
    signer: { method: 'jwk', alg: 'ES256', publicJwk: holderKey.publicJwk },
    nonce: c_nonce,
  })
  const credentialResponse = await client.retrieveCredentials({
    issuerMetadata,
    accessToken: accessTokenResponse.access_token,
    credentialConfigurationId: configurationId,
    dpop: token.dpop,
    proofs: { jwt: [jwt] },
  })
  let body = credentialResponse.credentialResponse
  // the DPoP key of the token, with the latest server nonce
  let dpop = { ...token.dpop, ...credentialResponse.dpop, signer: token.dpop.signer }
  let deferred
  if (body.transaction_id) {
    // §9: not issued yet; ask the Deferred Credential Endpoint after the interval.
    deferred = { transaction_id: body.transaction_id, interval: body.interval }
    await new Promise((resolve) => setTimeout(resolve, (body.interval ?? 1) * 1000))
    try {
      const later = await client.retrieveDeferredCredentials({
        issuerMetadata, accessToken: accessTokenResponse.access_token, transactionId: body.transaction_id, dpop,
      })
      body = later.deferredCredentialResponse ?? later.credentialResponse
      dpop = { ...dpop, ...later.dpop, signer: dpop.signer }
    } catch (error) {
      // What their parser said about our Deferred Credential Response, and the response itself.
      const result = error?.response?.deferredCredentialResponseResult
      deferred.refused = {
        status: error?.response?.response?.status,
        issues: (result?.error?.issues ?? []).map((issue) => issue.message),
        body: result ? undefined : String(error?.message ?? error),
      }
      deferred.answer = await error?.response?.response?.clone().json().catch(() => undefined)
      body = { credentials: [] }
    }
  }
  let refreshed
  if (request.refresh) {
    // Re-issuance (§13.5): a new access token from the refresh token, a credential for a new key.
    const oauth2Client = new oauth2.Oauth2Client({ callbacks })
    const renewed = await oauth2Client.retrieveRefreshTokenAccessToken({
      authorizationServerMetadata: issuerMetadata.authorizationServers[0],
      refreshToken: accessTokenResponse.refresh_token,
      dpop,
    })
    const freshKey = await generateKey()
    callbacks.signJwt = (await import('./_lib.mjs')).signJwtWith([...privateJwks, freshKey.privateJwk])
    const again = await client.requestNonce({ issuerMetadata })
    const proof = await client.createCredentialRequestJwtProof({
      credentialConfigurationId: configurationId, issuerMetadata,
      signer: { method: 'jwk', alg: 'ES256', publicJwk: freshKey.publicJwk }, nonce: again.c_nonce,
    })
    const reissued = await client.retrieveCredentials({
      issuerMetadata, accessToken: renewed.accessTokenResponse.access_token, credentialConfigurationId: configurationId,
      dpop: renewed.dpop, proofs: { jwt: [proof.jwt] },
    })
    refreshed = {
      credentials: (reissued.credentialResponse.credentials ?? []).map((c) => c.credential),
      holder_jwk: freshKey.publicJwk,
      rotated: renewed.accessTokenResponse.refresh_token !== accessTokenResponse.refresh_token,
    }
  }
  return {
    deferred,
    refreshed,
    token_type: accessTokenResponse.token_type,
    refresh_token: accessTokenResponse.refresh_token,
    authorization_server: token.authorizationServer,
    pkce_method: token.pkce_method,
    authorization_url: token.authorization_url,
    credentials: (body.credentials ?? []).map((c) => c.credential),
    notification_id: body.notification_id,
    holder_jwk: holderKey.publicJwk,
    dpop_jkt: await thumbprint(dpopKey.publicJwk),
    spec_version: issuerMetadata.originalDraftVersion,
  }
})
