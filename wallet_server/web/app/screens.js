// The resident's screens. Each takes (app, main, ...route arguments), reads the API and renders.

import { newCopyKeys, saveCopyKeys, signAscii, signingKey } from '../shared/device.js'
import { LANGUAGES, claimLabel, claimValue, formatDate, language, setLanguage, t, typeLabel } from '../shared/i18n.js'
import { byReadingOrder, readSdJwt, shareSplit } from '../shared/sdjwt.js'
import { credentialStatus } from '../shared/status.js'
import { vote } from './vote.js'
import { announce, busy, button, confirmDialog, field, h, render, shortDid, uniqueId } from '../shared/ui.js'

const OFFER_SCHEME = 'openid-credential-offer://'
const REQUEST_SCHEME = 'openid4vp://'
// The resident card comes as a batch of copies, each bound to its own fresh key and shown to one
// service only, so services pooling what they received cannot link the resident. The page asks for
// COPIES copies, or fewer when the issuer's metadata names a smaller batch_size. Other credentials
// (the voting eligibility credential, which the ballot page presents) stay bound to the device key.
const COPIED_CONFIGURATIONS = ['ResidentIdentityCredential']
const COPIES = 5

/** How many copies to ask the offer's issuer for: 0 (device-bound) for credentials not copied. */
async function copiesFor(offer) {
  if (!offer.configuration_ids.some((id) => COPIED_CONFIGURATIONS.includes(id))) return 0
  try {
    const url = new URL(offer.credential_issuer)
    const response = await fetch(`${url.origin}/.well-known/openid-credential-issuer${url.pathname.replace(/\/+$/, '')}`, { cache: 'no-store' })
    const meta = await response.json()
    const size = meta.batch_credential_issuance && meta.batch_credential_issuance.batch_size
    return Number.isInteger(size) && size >= 1 ? Math.min(COPIES, size) : 1
  } catch {
    return COPIES // metadata out of reach from the page (another origin): the wallet server checks
  }
}

/**
 * Sign the key proofs of an accept or refill answer: each signing input with the key its `jwk` names
 * (a copy key made for it, or the device key). `keys`: the copy keys sent; kept once the server took them.
 */
async function signProofs(app, answer, keys) {
  if (keys.length) await saveCopyKeys(keys)
  const inputs = answer.signing_inputs && answer.signing_inputs.length ? answer.signing_inputs : [{ signing_input: answer.signing_input, jwk: null }]
  const signatures = []
  for (const item of inputs) signatures.push(await signAscii(await signingKey(app.device, item.jwk), item.signing_input))
  return signatures
}

/** Refill batches of copies running out (the presentation's `refill`): fresh keys, the issuer's new copies. */
async function refill(app, batches) {
  let type = null
  for (const batch of batches || []) {
    const keys = await newCopyKeys(COPIES)
    const path = `/v1/offers/${encodeURIComponent(batch)}/refill`
    const answer = await app.api.call('POST', path, { keys: keys.map((k) => k.publicJwk) })
    const stored = await app.api.call('POST', `${path}/signature`, { signatures: await signProofs(app, answer, keys) })
    type = typeLabel(stored.vct || (stored.metadata && stored.metadata.vct))
  }
  return type
}

async function allPages(app, path, max = 10) {
  const items = []
  let cursor = null
  for (let i = 0; i < max; i++) {
    const join = path.includes('?') ? '&' : '?'
    const page = await app.api.call('GET', cursor ? `${path}${join}cursor=${encodeURIComponent(cursor)}` : path)
    items.push(...page.items)
    cursor = page.next_cursor
    if (!cursor) break
  }
  return items
}

function host(url) {
  try {
    return new URL(url).host
  } catch {
    return String(url)
  }
}

function claimList(entries, { values = true, className = 'share' } = {}) {
  return h(
    'ul',
    { class: `tags ${className}` },
    entries.map(([path, value]) => h('li', {}, values ? `${claimLabel(path)}: ${claimValue(value)}` : claimLabel(path))),
  )
}

// -- wallet: offers waiting and credentials ----------------------------------------------------

async function wallet(app, main) {
  const [offers, credentials] = await Promise.all([allPages(app, '/v1/offers'), allPages(app, '/v1/credentials')])
  const open = offers.filter((o) => o.state === 'pending' || o.state === 'accepting')
  const sections = []
  if (open.length) {
    sections.push(
      h('h2', {}, t('wallet.offers')),
      h(
        'ul',
        { class: 'list' },
        open.map((offer) =>
          h(
            'li',
            { class: 'card' },
            h('h3', {}, t('wallet.offer.item', { type: typeLabel(offer.configuration_ids[0]), issuer: host(offer.credential_issuer) })),
            h('p', { class: 'muted' }, t('wallet.offer.expires', { date: formatDate(offer.expires_at, { time: true }) })),
            h('a', { class: 'button', href: `#/offer/${encodeURIComponent(offer.id)}` }, t('wallet.offer.review')),
          ),
        ),
      ),
    )
  }
  sections.push(h('h2', {}, t('wallet.credentials')))
  if (!credentials.length) sections.push(h('p', { class: 'muted' }, t('wallet.empty')))
  sections.push(
    h(
      'ul',
      { class: 'list' },
      batches(credentials)
        .reverse()
        .map(({ first: c, count }) => {
          const type = typeLabel(c.vct || (c.metadata && c.metadata.vct))
          return h(
            'li',
            { class: 'card credential', dataset: { copies: String(count) } },
            h('h3', {}, h('a', { href: `#/credential/${encodeURIComponent(c.id)}`, 'aria-label': t('wallet.open', { type }) }, type)),
            h('p', { class: 'muted' }, shortDid(c.issuer)),
            h('p', { class: 'muted' }, t('wallet.issued', { date: formatDate(c.created_at) })),
            count > 1 ? h('p', { class: 'muted copies' }, t('wallet.copies', { count })) : null,
          )
        }),
    ),
  )
  render(main, t('wallet.title'), sections)
}

/** The stored credentials, the copies of one batch (metadata.batch) as one entry with their count. */
function batches(credentials) {
  const out = []
  const seen = new Map()
  for (const c of credentials) {
    const batch = c.metadata && c.metadata.batch
    if (batch && seen.has(batch)) {
      seen.get(batch).count += 1
      continue
    }
    const entry = { first: c, count: 1 }
    if (batch) seen.set(batch, entry)
    out.push(entry)
  }
  return out
}

// -- one credential ---------------------------------------------------------------------------

async function credential(app, main, id) {
  const stored = await app.api.call('GET', `/v1/credentials/${encodeURIComponent(id)}`)
  const read = stored.format.includes('sd-jwt') ? await readSdJwt(stored.credential) : null
  const { shared, withheld } = read ? shareSplit(read, read.selective) : { shared: [], withheld: [] }
  const entries = [...shared, ...withheld].sort(byReadingOrder)
  const claims = h('dl', { class: 'claims' }, entries.map(([path, value]) => [h('dt', {}, claimLabel(path)), h('dd', {}, claimValue(value))]))
  const payload = read ? read.payload : {}
  const status = await credentialStatus(payload).catch(() => null)
  const about = h(
    'dl',
    { class: 'claims' },
    h('dt', {}, t('credential.issuer')), h('dd', { class: 'mono' }, stored.issuer || ''),
    h('dt', {}, t('credential.type')), h('dd', {}, typeLabel(stored.vct)),
    payload.exp ? [h('dt', {}, t('credential.valid')), h('dd', {}, formatDate(payload.exp))] : null,
    h('dt', {}, t('credential.stored')), h('dd', {}, formatDate(stored.created_at)),
    status ? [h('dt', {}, t('credential.status')), h('dd', {}, h('span', { class: `badge ${status === 'valid' ? 'ok' : 'warn'}`, id: 'credential-status', dataset: { status } }, t(`credential.status.${status}`)))] : null,
  )
  const remove = button(t('credential.delete'), async () => {
    if (!(await confirmDialog(t('credential.delete.confirm'), t('credential.delete')))) return
    await busy(remove, async () => {
      await app.api.call('DELETE', `/v1/credentials/${encodeURIComponent(id)}`)
      announce(t('credential.deleted'))
      app.go('#/wallet')
    })
  }, { class: 'button secondary' })
  render(
    main,
    typeLabel(stored.vct),
    h('h2', {}, t('credential.claims')),
    claims,
    h('h2', {}, t('credential.about')),
    about,
    h('div', { class: 'actions' }, h('a', { class: 'button secondary', href: '#/wallet' }, t('app.back')), remove),
  )
}

// -- a credential offer: PIN, then the device signs the key proof ------------------------------

async function offer(app, main, id) {
  const item = await app.api.call('GET', `/v1/offers/${encodeURIComponent(id)}`)
  const facts = h(
    'dl',
    { class: 'claims' },
    h('dt', {}, t('offer.from')), h('dd', {}, host(item.credential_issuer)),
    h('dt', {}, t('offer.what')), h('dd', {}, item.configuration_ids.map(typeLabel).join(', ')),
    h('dt', {}, t('offer.until')), h('dd', {}, formatDate(item.expires_at, { time: true })),
  )
  if (item.state !== 'pending' && item.state !== 'accepting') {
    render(main, t('offer.title'), facts, h('p', { class: 'notice' }, t('offer.closed', { state: t(`state.${item.state}`) })),
      h('a', { class: 'button', href: '#/wallet' }, t('nav.wallet')))
    return
  }
  const tx = item.tx_code
  const pin = tx
    ? field(
        t(tx.input_mode === 'numeric' ? 'offer.pin' : 'offer.pin.text', { length: tx.length }),
        {
          name: 'pin',
          class: 'pin',
          inputmode: tx.input_mode === 'numeric' ? 'numeric' : 'text',
          pattern: tx.input_mode === 'numeric' ? '[0-9]*' : null,
          maxlength: String(tx.length),
          autocomplete: 'one-time-code',
          required: true,
        },
        tx.description || t('offer.pin.hint'),
      )
    : null
  const accept = h('button', { type: 'submit', class: 'button block' }, t('offer.accept'))
  const decline = button(t('offer.decline'), async () => {
    await busy(decline, async () => {
      await app.api.call('POST', `/v1/offers/${encodeURIComponent(id)}/decline`)
      announce(t('offer.declined'))
      app.go('#/wallet')
    }, { context: 'offer' })
  }, { class: 'button secondary block' })
  const form = h('form', { novalidate: true }, pin && pin.wrap, h('div', { class: 'actions stack' }, accept, decline))
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const code = pin ? pin.input.value.trim() : null
    if (pin && code.length !== tx.length) {
      pin.input.setAttribute('aria-invalid', 'true')
      pin.input.focus()
      announce(t('error.required', { field: t('offer.pin', { length: tx.length }) }), { error: true })
      return
    }
    await busy(accept, async () => {
      // A fresh key per copy (none for a device-bound credential); kept only once the server took them.
      const keys = await newCopyKeys(await copiesFor(item))
      const body = code ? { tx_code: code } : {}
      if (keys.length) body.keys = keys.map((k) => k.publicJwk)
      const toSign = await app.api.call('POST', `/v1/offers/${encodeURIComponent(id)}/accept`, body)
      const signatures = await signProofs(app, toSign, keys)
      const stored = await app.api.call('POST', `/v1/offers/${encodeURIComponent(id)}/signature`, { signatures })
      announce(t('offer.done'))
      app.go(`#/credential/${encodeURIComponent(stored.id)}`)
    }, { context: 'offer', working: t('offer.working') })
  })
  render(main, t('offer.title'), facts, form)
}

// -- scan: camera (jsQR) or a pasted link ------------------------------------------------------

let camera = null

function stopCamera() {
  if (camera) {
    camera.stream.getTracks().forEach((track) => track.stop())
    cancelAnimationFrame(camera.frame)
    camera = null
  }
}

window.addEventListener('hashchange', stopCamera)

async function openLink(app, link) {
  const text = link.trim()
  if (text.startsWith(OFFER_SCHEME)) {
    const added = await app.api.call('POST', '/v1/offers', { offer_uri: text })
    app.go(`#/offer/${encodeURIComponent(added.id)}`)
  } else if (text.startsWith(REQUEST_SCHEME)) {
    const started = await app.api.call('POST', '/v1/presentations', { request_uri: text })
    app.go(`#/consent/${encodeURIComponent(started.id)}`)
  } else {
    announce(t('scan.unknown'), { error: true })
  }
}

async function loadJsQr() {
  if (window.jsQR) return window.jsQR
  await new Promise((resolve, reject) => {
    const script = h('script', { src: '/static/vendor/jsqr/jsQR.js' })
    script.onload = resolve
    script.onerror = reject
    document.head.append(script)
  })
  return window.jsQR
}

async function scan(app, main) {
  const video = h('video', { playsinline: true, muted: true, 'aria-label': t('scan.video') })
  const box = h('div', { class: 'scanner', hidden: true }, video)
  const start = button(t('scan.start'), async () => {
    if (camera) {
      stopCamera()
      box.hidden = true
      start.textContent = t('scan.start')
      return
    }
    await busy(start, async () => {
      if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error('no camera')
      const jsQR = await loadJsQr()
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false })
      camera = { stream, frame: 0 }
      video.srcObject = stream
      box.hidden = false
      start.textContent = t('scan.stop')
      await video.play()
      announce(t('scan.looking'))
      const canvas = document.createElement('canvas')
      const context = canvas.getContext('2d', { willReadFrequently: true })
      const tick = () => {
        if (!camera) return
        if (video.readyState >= 2 && video.videoWidth) {
          canvas.width = video.videoWidth
          canvas.height = video.videoHeight
          context.drawImage(video, 0, 0)
          const image = context.getImageData(0, 0, canvas.width, canvas.height)
          const code = jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' })
          if (code && code.data) {
            stopCamera()
            announce(t('scan.found'))
            openLink(app, code.data).catch((error) => announce(String(error.message || error), { error: true }))
            return
          }
        }
        camera.frame = requestAnimationFrame(tick)
      }
      camera.frame = requestAnimationFrame(tick)
    }).then((ok) => {
      if (ok === undefined && !camera) announce(t('scan.nocamera'), { error: true })
    })
  }, { class: 'button block' })
  const link = field(t('scan.paste'), { name: 'link', multiline: true, rows: '3', autocomplete: 'off', spellcheck: 'false' }, t('scan.paste.hint'))
  const openButton = h('button', { type: 'submit', class: 'button secondary block' }, t('scan.open'))
  const form = h('form', { novalidate: true }, link.wrap, openButton)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (!link.input.value.trim()) {
      link.input.focus()
      announce(t('error.required', { field: t('scan.paste') }), { error: true })
      return
    }
    await busy(openButton, () => openLink(app, link.input.value), { context: 'scan' })
  })
  render(main, t('scan.title'), h('p', {}, t('scan.intro')), start, box, form)
}

// -- consent: who asks, the registered purpose, exactly what is shared and what is withheld ------

async function consentScreen(app, main, id, chosen = {}) {
  const presentation = await app.api.call('GET', `/v1/presentations/${encodeURIComponent(id)}`)
  if (presentation.state !== 'consent_required') return result(app, main, presentation)
  const service = presentation.service
  const serviceName = service.name || shortDid(service.did)
  const who = h(
    'div',
    { class: 'card' },
    h('h2', {}, t('consent.who')),
    h('p', { class: 'service-name' }, h('strong', {}, serviceName)),
    h('p', { class: 'mono' }, service.did),
    registration(presentation),
    h('h2', {}, t('consent.purpose')),
    h('p', { class: 'purpose' }, presentation.purpose || '—'),
  )
  const parts = [who]
  const selections = []
  if (!presentation.satisfiable) {
    parts.push(h('p', { class: 'notice error' }, t('consent.unsatisfiable')))
  }
  for (const query of presentation.satisfiable ? presentation.credentials : []) {
    const selectedId = chosen[query.query_id] || query.options[0].credential_id
    const option = query.options.find((o) => o.credential_id === selectedId) || query.options[0]
    selections.push({ query_id: query.query_id, credential_id: option.credential_id })
    const stored = await app.api.call('GET', `/v1/credentials/${encodeURIComponent(option.credential_id)}`)
    const read = await readSdJwt(stored.credential)
    const { shared, withheld } = shareSplit(read, option.claims)
    const section = h('section', { class: 'card', 'aria-label': typeLabel(stored.vct) })
    if (query.options.length > 1) {
      const name = uniqueId('cred')
      const group = h('fieldset', {}, h('legend', {}, t('consent.credential')))
      for (const o of query.options) {
        const inputId = uniqueId('opt')
        const radio = h('input', { type: 'radio', name, id: inputId, value: o.credential_id, checked: o.credential_id === option.credential_id })
        radio.addEventListener('change', () => consentScreen(app, main, id, { ...chosen, [query.query_id]: o.credential_id }))
        group.append(h('div', {}, radio, h('label', { for: inputId }, `${typeLabel(stored.vct)} · ${o.credential_id}`)))
      }
      section.append(group)
    }
    if (Number.isInteger(option.copies_left)) {
      section.append(h('p', { class: 'muted copies-left', dataset: { copiesLeft: String(option.copies_left) } }, t('consent.copies_left', { count: option.copies_left })))
    }
    section.append(
      h('h2', {}, t('consent.shares')),
      claimList(shared.length ? shared : option.claims.map((p) => [p, '']), { values: shared.length > 0 }),
      h('h2', {}, t('consent.withholds')),
      withheld.length ? claimList(withheld, { values: false, className: 'withhold' }) : h('p', { class: 'muted' }, t('consent.withholds.none')),
      h('p', { class: 'muted' }, t('consent.always')),
    )
    parts.push(section)
  }
  parts.push(h('p', { class: 'muted' }, t('consent.expires', { date: formatDate(presentation.expires_at, { time: true }) })))
  const share = button(t('consent.share'), async () => {
    const done = await busy(share, async () => {
      let answer = await app.api.call('POST', `/v1/presentations/${encodeURIComponent(id)}/consent`, { selections })
      const signatures = []
      for (const item of answer.signing_inputs) {
        // A copy's Key Binding JWT is signed with that copy's key (the jwk it names), never the device key.
        signatures.push({ query_id: item.query_id, signature: await signAscii(await signingKey(app.device, item.jwk), item.signing_input) })
      }
      answer = await app.api.call('POST', `/v1/presentations/${encodeURIComponent(id)}/signature`, { signatures })
      // The copy shown was the batch's last (or none was left for this service): new copies, fresh keys.
      return { answer, refilled: await refill(app, presentation.refill) }
    }, { context: 'consent', working: t('consent.working') })
    if (done) {
      result(app, main, done.answer)
      if (done.refilled) announce(t('consent.refilled', { type: done.refilled }))
    }
  }, { class: 'button block' })
  const decline = button(t('consent.decline'), async () => {
    const done = await busy(decline, () => app.api.call('POST', `/v1/presentations/${encodeURIComponent(id)}/decline`), { context: 'consent' })
    if (done) result(app, main, done)
  }, { class: 'button secondary block' })
  // Nothing answers the request: the resident can only decline.
  parts.push(h('div', { class: 'actions stack' }, presentation.satisfiable ? share : null, decline))
  render(main, t('consent.title'), parts)
}

/** What the city registered the service for: how long it keeps the data, its notice, who else gets it. */
function registration(presentation) {
  const reg = presentation.registration
  if (reg === undefined) return null // this server does not report registrations
  if (!reg) return h('p', {}, h('span', { class: 'badge warn' }, t('consent.not_registered')))
  const recipients = reg.recipients && reg.recipients.length ? reg.recipients.join(', ') : t('consent.recipients.none')
  return h(
    'div',
    { class: 'registration' },
    h('p', {}, h('span', { class: 'badge ok' }, `✓ ${t('consent.registered')}`)),
    h(
      'dl',
      { class: 'claims' },
      h('dt', {}, t('consent.retention.label')), h('dd', { class: 'retention' }, t('consent.retention', { days: reg.retention_days })),
      h('dt', {}, t('consent.recipients')), h('dd', {}, recipients),
      reg.privacy_policy ? [h('dt', {}, t('consent.policy')), h('dd', {}, h('a', { href: reg.privacy_policy, rel: 'noopener noreferrer', target: '_blank' }, host(reg.privacy_policy)))] : null,
    ),
  )
}

function result(app, main, presentation) {
  const service = presentation.service.name || shortDid(presentation.service.did)
  const outcome = presentation.outcome || {}
  const lines = []
  if (presentation.state === 'shared') {
    lines.push(h('p', { class: 'notice ok' }, t('consent.shared', { service })))
    if (outcome.claims) lines.push(h('h2', {}, t('activity.shares')), claimList(outcome.claims.map((c) => [c.split('.'), '']), { values: false }))
    lines.push(h('p', {}, outcome.receipt_id ? t('consent.receipt') : t('consent.noreceipt', { code: outcome.receipt_error || '-' })))
  } else if (presentation.state === 'refused' && outcome.refused_by === 'wallet') {
    // The wallet refused before asking: the service is not registered for this, and was sent nothing.
    lines.push(h('p', { class: 'notice error' }, t('consent.wallet_refused')), outcome.reason ? h('p', { class: 'reason' }, outcome.reason) : null)
  } else if (presentation.state === 'refused') {
    lines.push(h('p', { class: 'notice error' }, t('consent.refused', { service, code: outcome.error || '-' })))
  } else if (presentation.state === 'declined') {
    lines.push(h('p', { class: 'notice' }, t('consent.declined')))
  } else if (presentation.state === 'unknown') {
    lines.push(h('p', { class: 'notice error' }, t('consent.unknown')))
  } else {
    lines.push(h('p', { class: 'notice' }, t('consent.expired')))
  }
  lines.push(h('div', { class: 'actions stack' }, h('a', { class: 'button', href: '#/activity' }, t('consent.activity')), h('a', { class: 'button secondary', href: '#/wallet' }, t('nav.wallet'))))
  render(main, t('consent.title'), lines)
}

// -- activity: every access with its receipt's proof checked on chain --------------------------

function receiptCard(receipt, names) {
  const service = names.get(receipt.consent_id) || shortDid(receipt.service_did)
  const entry = receipt.entry || {}
  const state = h('p', {}, h('span', { class: `badge ${receipt.state === 'final' ? 'ok' : 'off'}` }, t(`activity.state.${receipt.state}`)))
  const proof = h('div', { class: 'proof' })
  if (receipt.state === 'final') {
    proof.append(
      h('p', {}, h('span', { class: `badge ${receipt.proof_verified ? 'ok' : 'warn'}` }, receipt.proof_verified ? `✓ ${t('activity.verified')}` : t('activity.unverified'))),
      h(
        'dl',
        { class: 'claims' },
        h('dt', {}, t('activity.block')), h('dd', { class: 'block-number' }, String(entry.block_number ?? '')),
        h('dt', {}, t('activity.root')), h('dd', { class: 'mono' }, String(entry.root ?? '')),
        h('dt', {}, t('activity.tx')), h('dd', { class: 'mono' }, String(entry.tx_hash ?? '')),
      ),
    )
  }
  return h(
    'li',
    { class: 'card receipt', dataset: { receipt: receipt.id, state: receipt.state, verified: String(receipt.proof_verified) } },
    h('h3', {}, t('activity.accessed', { service, date: formatDate(receipt.accessed_at, { time: true }) })),
    h('p', { class: 'muted' }, `${t('activity.purpose')}: ${receipt.purpose}`),
    claimList(receipt.claims.map((c) => [c.split('.'), '']), { values: false }),
    state,
    proof,
  )
}

async function activity(app, main) {
  const [receipts, consents] = await Promise.all([
    allPages(app, '/v1/receipts?limit=100'),
    allPages(app, '/v1/consents'),
  ])
  const names = new Map(consents.map((c) => [c.id, c.service.name || shortDid(c.service.did)]))
  // Each anchored receipt's inclusion proof is checked against the root on chain, now.
  const checked = []
  for (const receipt of receipts.slice().reverse().slice(0, 50)) {
    checked.push(receipt.state === 'final' ? await app.api.call('GET', `/v1/receipts/${encodeURIComponent(receipt.id)}`) : receipt)
  }
  const list = h('ul', { class: 'list' }, checked.map((r) => receiptCard(r, names)))
  render(
    main,
    t('activity.title'),
    h('p', {}, h('a', { href: '#/consents' }, t('activity.consents'))),
    h('h2', {}, t('activity.accesses')),
    checked.length ? list : h('p', { class: 'muted' }, t('activity.empty')),
  )
}

// -- consents and withdrawal -------------------------------------------------------------------

async function consents(app, main) {
  const items = (await allPages(app, '/v1/consents')).slice().reverse()
  const list = h(
    'ul',
    { class: 'list' },
    items.map((c) => {
      const service = c.service.name || shortDid(c.service.did)
      const withdraw = c.state === 'given'
        ? button(t('consents.withdraw'), async () => {
            if (!(await confirmDialog(t('consents.withdraw.confirm', { service }), t('consents.withdraw')))) return
            const done = await busy(withdraw, () => app.api.call('POST', `/v1/consents/${encodeURIComponent(c.id)}/withdraw`))
            if (done) {
              await consents(app, main)
              announce(t('consents.withdrawn.done'))
            }
          }, { class: 'button secondary' })
        : null
      return h(
        'li',
        { class: 'card consent', dataset: { consent: c.id, state: c.state } },
        h('h3', {}, service),
        h('p', {}, h('span', { class: `badge ${c.state === 'given' ? 'ok' : 'off'}` }, t(`consents.state.${c.state}`))),
        h('p', { class: 'muted' }, `${t('activity.purpose')}: ${c.purposes.join(', ')}`),
        claimList(c.claims.map((p) => [p.split('.'), '']), { values: false }),
        h('p', { class: 'muted' }, t('consents.given', { date: formatDate(c.given_at, { time: true }) }),
          c.withdrawn_at ? ` · ${t('consents.withdrawn', { date: formatDate(c.withdrawn_at, { time: true }) })}` : c.expires_at ? ` · ${t('consents.until', { date: formatDate(c.expires_at) })}` : ''),
        withdraw,
      )
    }),
  )
  render(main, t('consents.title'), items.length ? list : h('p', { class: 'muted' }, t('consents.empty')))
}

// -- settings ----------------------------------------------------------------------------------

async function settings(app, main) {
  const devices = (await app.api.call('GET', '/v1/devices')).items
  const me = devices.find((d) => d.id === app.device.deviceId)
  const others = devices.filter((d) => d.id !== app.device.deviceId)
  const langField = field(t('settings.language'), { name: 'language', multiline: false })
  const select = h('select', { id: langField.input.id, name: 'language' }, Object.entries(LANGUAGES).map(([code, label]) => h('option', { value: code, selected: code === language(), lang: code }, label)))
  langField.input.replaceWith(select)
  select.addEventListener('change', () => {
    setLanguage(select.value)
    app.refreshChrome()
    settings(app, main)
  })
  const otherList = h(
    'ul',
    { class: 'list' },
    others.map((d) => {
      const remove = button(t('settings.device.remove', { name: d.name }), async () => {
        if (!(await confirmDialog(t('settings.device.remove.confirm', { name: d.name }), t('settings.device.remove', { name: d.name })))) return
        const done = await busy(remove, () => app.api.call('DELETE', `/v1/devices/${encodeURIComponent(d.id)}`))
        if (done !== undefined) {
          await settings(app, main)
          announce(t('settings.device.removed'))
        }
      }, { class: 'button secondary' })
      return h('li', { class: 'card' }, h('h3', {}, d.name), h('p', { class: 'muted' }, formatDate(d.created_at)), remove)
    }),
  )
  const logout = button(t('settings.logout'), async () => {
    await busy(logout, async () => {
      await app.api.logout()
      announce(t('settings.loggedout'))
    })
  }, { class: 'button secondary block' })
  const forget = button(t('settings.forget'), async () => {
    if (!(await confirmDialog(t('settings.forget.confirm'), t('settings.forget')))) return
    await busy(forget, async () => {
      await app.api.call('DELETE', `/v1/devices/${encodeURIComponent(app.device.deviceId)}`).catch(() => {})
      await app.forget()
    })
  }, { class: 'button danger block' })
  render(
    main,
    t('settings.title'),
    langField.wrap,
    h('h2', {}, t('settings.device')),
    h(
      'dl',
      { class: 'claims' },
      h('dt', {}, t('welcome.name')), h('dd', {}, me ? me.name : app.device.name),
      h('dt', {}, t('settings.key')), h('dd', {}, t('settings.key.text')),
    ),
    h('h2', {}, t('settings.devices')),
    others.length ? otherList : h('p', { class: 'muted' }, t('settings.devices.none')),
    h('div', { class: 'actions stack' }, logout, forget),
    h('h2', {}, t('settings.about')),
    h('p', { class: 'muted' }, t('settings.about.text')),
  )
}

/** #/open/<link>: another page hands the wallet an offer or request link. */
async function openRoute(app, main, link) {
  render(main, t('scan.title'), h('p', {}, t('app.loading')))
  await openLink(app, link || '')
}

export const SCREENS = {
  wallet,
  credential,
  offer,
  scan,
  consent: consentScreen,
  activity,
  consents,
  settings,
  open: openRoute,
  vote,
}
