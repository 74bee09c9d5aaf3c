// The wallet server's HTTP API, as docs/wallet-api.md describes it: a resident's calls carry a
// DPoP-bound access token and a fresh proof signed by the device key; staff calls a Bearer token.

import { dpopProof, signJws } from './device.js'

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || `HTTP ${status}`)
    this.status = status
    this.code = problem.code || problem.error || 'http_error'
    this.requestId = problem.request_id || ''
  }
}

async function answer(response) {
  if (response.status === 204) return null
  const text = await response.text()
  let body = {}
  if (text) {
    try {
      body = JSON.parse(text)
    } catch {
      body = { detail: text }
    }
  }
  if (!response.ok) throw new ApiError(response.status, body)
  return body
}

async function json(method, url, { body, headers = {} } = {}) {
  const init = { method, headers: { ...headers }, cache: 'no-store' }
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  return answer(await fetch(url, init))
}

export class WalletApi {
  constructor(device, origin = location.origin) {
    this.device = device
    this.origin = origin
    this.accessToken = null
  }

  static async enrol(code, publicJwk, name, origin = location.origin) {
    return json('POST', `${origin}/v1/enrolment`, { body: { code, public_jwk: publicJwk, name } })
  }

  /** Challenge login: sign the server's nonce with the device key. */
  async login() {
    const challenge = await json('POST', `${this.origin}/v1/auth/challenge`)
    const assertion = await signJws(
      this.device.keyPair.privateKey,
      { typ: 'wallet-auth+jwt' },
      { nonce: challenge.nonce, aud: challenge.audience, iat: Math.floor(Date.now() / 1000) },
    )
    const tokens = await json('POST', `${this.origin}/v1/auth/token`, {
      body: { device_id: this.device.deviceId, assertion },
    })
    this.accessToken = tokens.access_token
    this.refreshToken = tokens.refresh_token
    return tokens
  }

  async call(method, path, body) {
    if (!this.accessToken) await this.login()
    try {
      return await this._call(method, path, body)
    } catch (error) {
      // An expired access token: log in again (a new challenge) and repeat once.
      if (error instanceof ApiError && error.status === 401 && error.code === 'token_expired') {
        await this.login()
        return this._call(method, path, body)
      }
      throw error
    }
  }

  async _call(method, path, body) {
    const url = this.origin + path
    const proof = await dpopProof(this.device, method, url, this.accessToken)
    return json(method, url, { body, headers: { Authorization: `DPoP ${this.accessToken}`, DPoP: proof } })
  }

  async logout() {
    if (this.accessToken && this.refreshToken) {
      await this.call('POST', '/v1/auth/logout', { refresh_token: this.refreshToken })
    }
    this.accessToken = null
    this.refreshToken = null
  }
}

export class AdminApi {
  constructor(token, origin = location.origin) {
    this.token = token
    this.origin = origin
  }

  call(method, path, body) {
    return json(method, this.origin + path, { body, headers: { Authorization: `Bearer ${this.token}` } })
  }
}
