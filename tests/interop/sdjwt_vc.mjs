// @sd-jwt/sd-jwt-vc (npm, pinned in tools/package.json) on our SD-JWT VCs.
//   {"op": "verify", "token", "issuer_jwk", "nonce"?, "aud"?, "required"?: [claim names]}
//     -> {"payload", "header", "kb"?}   (signature, digests, disclosures, iat/exp, and the KB-JWT's
//                                         signature with cnf.jwk, nonce and sd_hash when present)
//   {"op": "present", "token", "holder_jwk" (private), "frame", "aud", "nonce"} -> {"presentation"}
import crypto from 'node:crypto'
import { load, main } from './_lib.mjs'

const { SDJwtVcInstance } = await load('@sd-jwt/sd-jwt-vc')
const { digest, generateSalt } = await load('@sd-jwt/crypto-nodejs')

const HASH = { ES256: 'sha256', ES256K: 'sha256', ES384: 'sha384', ES512: 'sha512' }

function jwkVerifier(jwk, alg) {
  const key = crypto.createPublicKey({ key: jwk, format: 'jwk' })
  return (data, signature) =>
    crypto.verify(HASH[alg] ?? 'sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(signature, 'base64url'))
}

function jwkSigner(privateJwk, alg) {
  const key = crypto.createPrivateKey({ key: privateJwk, format: 'jwk' })
  return (data) =>
    crypto.sign(HASH[alg] ?? 'sha256', Buffer.from(data), { key, dsaEncoding: 'ieee-p1363' }).toString('base64url')
}

function headerAlg(token) {
  return JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')).alg
}

await main(async (request) => {
  if (request.op === 'verify') {
    const alg = headerAlg(request.token)
    const sdjwt = new SDJwtVcInstance({
      hasher: digest,
      verifier: jwkVerifier(request.issuer_jwk, alg),
      kbVerifier: (data, signature, payload) => jwkVerifier(payload.cnf.jwk, 'ES256')(data, signature),
      loadTypeMetadataFormat: false,
    })
    const verified = await sdjwt.verify(request.token, {
      keyBindingNonce: request.nonce,
      requiredClaimKeys: request.required,
    })
    if (verified.kb && request.aud !== undefined && verified.kb.payload.aud !== request.aud) {
      throw new Error(`KB-JWT aud ${verified.kb.payload.aud} is not ${request.aud}`)
    }
    return { payload: verified.payload, header: verified.header, kb: verified.kb }
  }
  if (request.op === 'present') {
    const sdjwt = new SDJwtVcInstance({
      hasher: digest,
      saltGenerator: generateSalt,
      kbSigner: jwkSigner(request.holder_jwk, 'ES256'),
      kbSignAlg: 'ES256',
    })
    const presentation = await sdjwt.present(request.token, request.frame, {
      kb: { payload: { aud: request.aud, nonce: request.nonce, iat: Math.floor(Date.now() / 1000) } },
    })
    return { presentation }
  }
  throw new Error(`unknown op ${request.op}`)
})
