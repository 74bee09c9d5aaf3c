// did-jwt-vc (npm, pinned in tools/package.json): VC Data Model 1.1 credentials as JWTs (jwt_vc_json).
//   {"op": "issue", "did", "kid", "alg", "private_key_hex", "sub", "subject", "nbf", "exp"?}
//     -> {"jwt"}   (createVerifiableCredentialJwt with did-jwt's signer for alg)
//   {"op": "verify", "jwt", "did", "kid", "public_jwk"}
//     -> {"payload", "issuer"}   (verifyCredential; the issuer's DID document names public_jwk under kid)
import { load, main } from './_lib.mjs'

const didJwtVc = await load('did-jwt-vc')
const didJwt = await load('did-jwt')

function signer(alg, hex) {
  const bytes = Uint8Array.from(Buffer.from(hex, 'hex'))
  if (alg === 'ES256K') return didJwt.ES256KSigner(bytes)
  if (alg === 'ES256') return didJwt.ES256Signer(bytes)
  if (alg === 'EdDSA') return didJwt.EdDSASigner(bytes)
  throw new Error(`no signer for ${alg}`)
}

function resolverFor(did, kid, jwk) {
  const didDocument = {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: did,
    verificationMethod: [{ id: kid, type: 'JsonWebKey2020', controller: did, publicKeyJwk: jwk }],
    assertionMethod: [kid],
    authentication: [kid],
  }
  return {
    resolve: async (wanted) => wanted.split('#')[0] === did
      ? { didResolutionMetadata: {}, didDocument, didDocumentMetadata: {} }
      : { didResolutionMetadata: { error: 'notFound' }, didDocument: null, didDocumentMetadata: {} },
  }
}

await main(async (request) => {
  if (request.op === 'issue') {
    const payload = {
      sub: request.sub,
      nbf: request.nbf,
      vc: {
        '@context': ['https://www.w3.org/2018/credentials/v1'],
        type: ['VerifiableCredential', 'ResidentCredential'],
        credentialSubject: request.subject,
      },
    }
    if (request.exp !== undefined) payload.exp = request.exp
    const issuer = { did: request.did, signer: signer(request.alg, request.private_key_hex), alg: request.alg }
    const jwt = await didJwtVc.createVerifiableCredentialJwt(payload, issuer, { header: { kid: request.kid } })
    return { jwt }
  }
  if (request.op === 'verify') {
    const verified = await didJwtVc.verifyCredential(request.jwt, resolverFor(request.did, request.kid, request.public_jwk))
    return { payload: verified.payload, issuer: verified.issuer, kid: verified.signer.id }
  }
  throw new Error(`unknown op ${request.op}`)
})
