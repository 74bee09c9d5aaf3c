// @openid4vc/openid4vci (npm, pinned in tools/package.json) as the wallet against our issuer.
//   {"offer": "openid-credential-offer://...", "flow": "pre-authorized" | "authorization_code",
//    "tx_code"?, "client_id", "redirect_uri"}
//   -> {"token_type", "credentials": [...], "notification_id"?, "holder_jwk", "dpop_jkt",
//       "authorization_server", "refresh_token"?}
// The authorization step follows the authorization URL like a browser (our test issuer signs the
// resident in at once and redirects).
import { baseCallbacks, generateKey, load, main, oauth2, thumbprint } from './_lib.mjs'

const vci = await load('@openid4vc/openid4vci')

await main(async (request) => {
  const dpopKey = await generateKey()
  const holderKey = await generateKey()
  const callbacks = baseCallbacks([dpopKey.privateJwk, holderKey.privateJwk], {
    clientAuthentication: oauth2.clientAuthenticationNone({ clientId: request.client_id }),
  })
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
  const body = credentialResponse.credentialResponse
  return {
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
