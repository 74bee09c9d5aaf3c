// The city console: staff sign in with an admin token; each section calls the admin API
// (docs/wallet-api.md, "The city admin API") and shows only what the token's roles allow.

import { AdminApi, ApiError } from '../shared/api.js'
import { claimLabel, extend, formatDate, language, setLanguage, t, typeLabel } from '../shared/i18n.js'
import { announce, busy, button, confirmDialog, field, h, render } from '../shared/ui.js'
import { CONSOLE_STRINGS } from './strings.js'

extend(CONSOLE_STRINGS)

const TOKEN_KEY = 'vcsdk.console.token'
const KYC_LOG = 'vcsdk.console.kyc'
const main = document.getElementById('main')
const nav = document.getElementById('sections')

const state = { api: null, me: null }

// [route, label key, role needed (null: any)]
const SECTIONS = [
  ['home', 'section.home', null],
  ['residents', 'section.residents', 'operator'],
  ['kyc', 'section.kyc', 'issuer'],
  ['credentials', 'section.credentials', 'issuer'],
  ['status', 'section.status', 'issuer'],
  ['anchoring', 'section.anchoring', 'operator'],
  ['services', 'section.services', 'operator'],
  ['elections', 'section.elections', ['operator', 'issuer']],
  ['opendata', 'section.opendata', 'operator'],
]

function allowed(role) {
  if (role === null) return true
  const roles = Array.isArray(role) ? role : [role]
  return Boolean(state.me) && roles.some((r) => state.me.roles.includes(r))
}

function go(hash) {
  if (location.hash === hash) route()
  else location.hash = hash
}

function table(headers, rows, { caption } = {}) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'data' },
      caption ? h('caption', { class: 'muted' }, caption) : null,
      h('thead', {}, h('tr', {}, headers.map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', {}, rows),
    ),
  )
}

function chrome() {
  document.documentElement.lang = language()
  document.getElementById('brand').textContent = t('console.name')
  document.getElementById('skip').textContent = t('app.skip')
  const who = document.getElementById('who')
  who.replaceChildren()
  if (state.me) {
    const roles = state.me.roles.map((r) => t(`role.${r}`)).join(', ')
    who.append(t('console.who', { name: state.me.name, roles }), ' ', button(t('console.signout'), signOut, { class: 'button link' }))
  }
  nav.hidden = !state.me
  nav.setAttribute('aria-label', t('console.sections'))
  const current = (location.hash.slice(2) || 'home').split('/')[0]
  nav.replaceChildren(
    h(
      'ul',
      {},
      SECTIONS.filter(([, , role]) => allowed(role)).map(([name, key]) =>
        h('li', {}, h('a', { href: `#/${name}`, 'aria-current': name === current ? 'page' : null }, t(key))),
      ),
      h('li', {}, button(language() === 'ja' ? 'English' : '日本語', switchLanguage, { class: 'button link', lang: language() === 'ja' ? 'en' : 'ja' })),
    ),
  )
}

function signOut() {
  sessionStorage.removeItem(TOKEN_KEY)
  state.api = null
  state.me = null
  go('#/signin')
}

// -- sign-in -----------------------------------------------------------------------------------

function signIn() {
  const token = field(t('console.token'), { type: 'password', name: 'token', autocomplete: 'off', required: true }, t('console.token.hint'))
  const submit = h('button', { type: 'submit', class: 'button' }, t('console.signin.submit'))
  const form = h('form', { novalidate: true }, token.wrap, submit)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const value = token.input.value.trim()
    if (!value) {
      token.input.focus()
      announce(t('error.required', { field: t('console.token') }), { error: true })
      return
    }
    await busy(submit, async () => {
      const api = new AdminApi(value)
      try {
        state.me = await api.call('GET', '/admin/v1/me')
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) {
          token.input.setAttribute('aria-invalid', 'true')
          announce(t('console.signin.bad'), { error: true })
          return
        }
        throw error
      }
      state.api = api
      sessionStorage.setItem(TOKEN_KEY, value)
      go('#/home')
    })
  })
  render(main, t('console.signin'), h('p', {}, t('console.signin.intro')), form)
}

// -- sections ----------------------------------------------------------------------------------

async function home() {
  const parts = [h('p', {}, t('home.roles', { sections: SECTIONS.filter(([, , r]) => allowed(r)).map(([, k]) => t(k)).join(', ') }))]
  if (allowed('operator')) {
    const city = await state.api.call('GET', '/admin/v1/city')
    parts.push(
      h('h2', {}, t('home.city')),
      h(
        'dl',
        { class: 'claims' },
        h('dt', {}, t('home.did')), h('dd', { class: 'mono' }, city.did),
        h('dt', {}, t('home.chain')), h('dd', {}, String(city.chain_id)),
        h('dt', {}, t('home.issuer')), h('dd', { class: 'mono' }, city.credential_issuer || ''),
        h('dt', {}, t('home.contracts')),
        h('dd', { class: 'mono' }, Object.entries(city.contracts || {}).map(([name, address]) => h('div', {}, `${name}: ${address}`))),
      ),
    )
  }
  render(main, t('home.title'), parts)
}

async function residents(_route, cursor) {
  const result = h('div', { class: 'outcome', id: 'code-result' })
  const listBox = h('div', {})
  const issue = async (control, residentId) => {
    const issued = await busy(control, () => state.api.call('POST', '/admin/v1/enrolment-codes', residentId ? { resident_id: residentId } : {}))
    if (!issued) return
    const heading = h('h2', { tabindex: '-1' }, t('residents.code', { resident: issued.resident_id }))
    result.replaceChildren(
      h(
        'div',
        { class: 'card' },
        heading,
        h('p', { class: 'code-display', id: 'enrolment-code' }, issued.code),
        h('p', { class: 'muted' }, t('residents.code.expires', { date: formatDate(issued.expires_at, { time: true }) })),
        allowed('issuer') ? h('a', { class: 'button secondary', href: `#/kyc/${encodeURIComponent(issued.resident_id)}` }, t('residents.kyc')) : null,
      ),
    )
    if (!residentId) await loadList()
    heading.focus()
  }
  const loadList = async () => {
    const page = await state.api.call('GET', `/admin/v1/residents?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    const rows = page.items
      .slice()
      .reverse()
      .map((r) => {
        const another = button(t('residents.another'), () => issue(another, r.id), { class: 'button secondary', 'aria-label': `${t('residents.another')}: ${r.id}` })
        return h('tr', {}, h('td', { class: 'mono' }, r.id), h('td', {}, r.status), h('td', {}, formatDate(r.created_at, { time: true })), h('td', {}, h('div', { class: 'row-actions' }, another)))
      })
    listBox.replaceChildren(
      rows.length ? table([t('residents.id'), t('residents.status'), t('residents.created'), t('credentials.actions')], rows) : h('p', { class: 'muted' }, t('residents.none')),
      page.next_cursor ? h('a', { class: 'button secondary', href: `#/residents/${encodeURIComponent(page.next_cursor)}` }, t('residents.more')) : '',
    )
  }
  await loadList()
  const create = button(t('residents.new'), () => issue(create, null), { class: 'button' })
  render(main, t('residents.title'), h('p', {}, t('residents.intro')), create, result, h('h2', {}, t('residents.list')), listBox)
}

function kycLog() {
  try {
    return JSON.parse(sessionStorage.getItem(KYC_LOG) || '[]')
  } catch {
    return []
  }
}

function kycOutcome(answer) {
  const parts = []
  if (answer.outcome === 'verified') {
    parts.push(
      h('p', { class: 'notice ok' }, t('kyc.verified')),
      h('p', { id: 'pin-label' }, t('kyc.pin')),
      h('p', { class: 'pin-display', id: 'tx-code', 'aria-labelledby': 'pin-label' }, answer.tx_code),
    )
  } else if (answer.outcome === 'partial_match') {
    parts.push(h('p', { class: 'notice error' }, t('kyc.partial_match')), h('p', {}, t('kyc.matched', { fields: answer.matched_fields.join(', ') })))
  } else if (answer.outcome === 'not_active') {
    parts.push(h('p', { class: 'notice error' }, t('kyc.not_active', { status: answer.status })))
  } else {
    parts.push(h('p', { class: 'notice error' }, t('kyc.no_match')))
  }
  return h('section', { class: 'card', 'aria-labelledby': 'outcome-title', dataset: { outcome: answer.outcome } }, h('h2', { id: 'outcome-title', tabindex: '-1' }, t('kyc.outcome')), parts)
}

function kyc(_route, residentId = '') {
  const resident = field(t('kyc.resident'), { name: 'resident_id', value: residentId, autocomplete: 'off', required: true })
  const family = field(t('kyc.family'), { name: 'family_name', autocomplete: 'off', required: true })
  const given = field(t('kyc.given'), { name: 'given_name', autocomplete: 'off', required: true })
  const birthdate = field(t('kyc.birthdate'), { name: 'birthdate', type: 'date', required: true })
  const address = field(t('kyc.address'), { name: 'address', autocomplete: 'off', required: true }, t('kyc.address.hint'))
  const submit = h('button', { type: 'submit', class: 'button' }, t('kyc.submit'))
  const outcome = h('div', { class: 'outcome' })
  const history = h('div', {})
  const showHistory = () => {
    const log = kycLog()
    history.replaceChildren(
      h('h2', {}, t('kyc.history')),
      log.length
        ? table([t('kyc.when'), t('kyc.resident'), t('kyc.outcome')], log.slice().reverse().map((e) => h('tr', {}, h('td', {}, formatDate(e.at, { time: true })), h('td', { class: 'mono' }, e.resident_id), h('td', {}, t(`kyc.o.${e.outcome}`)))))
        : h('p', { class: 'muted' }, t('kyc.history.none')),
    )
  }
  const inputs = [resident, family, given, birthdate, address]
  const form = h('form', { novalidate: true }, resident.wrap, h('div', { class: 'grid2' }, family.wrap, given.wrap), birthdate.wrap, address.wrap, submit)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const missing = inputs.find((f) => !f.input.value.trim())
    inputs.forEach((f) => f.input.toggleAttribute('aria-invalid', !f.input.value.trim()))
    if (missing) {
      missing.input.focus()
      announce(t('error.required', { field: missing.wrap.querySelector('label').textContent }), { error: true })
      return
    }
    const body = {
      resident_id: resident.input.value.trim(),
      family_name: family.input.value.trim(),
      given_name: given.input.value.trim(),
      birthdate: birthdate.input.value,
      address: address.input.value.trim(),
    }
    const answer = await busy(submit, () => state.api.call('POST', '/admin/v1/issuances', body), { context: 'kyc' })
    if (!answer) return
    // The session's log keeps who and what outcome, never the identity data entered.
    sessionStorage.setItem(KYC_LOG, JSON.stringify([...kycLog(), { at: new Date().toISOString(), resident_id: body.resident_id, outcome: answer.outcome }].slice(-50)))
    outcome.replaceChildren(kycOutcome(answer))
    outcome.querySelector('h2').focus()
    showHistory()
    if (answer.outcome === 'verified') [family, given, birthdate, address].forEach((f) => (f.input.value = ''))
  })
  showHistory()
  render(main, t('kyc.title'), h('p', {}, t('kyc.intro')), form, outcome, history)
}

async function credentials(_route, residentId = '') {
  const query = residentId ? `?resident_id=${encodeURIComponent(residentId)}` : ''
  const page = await state.api.call('GET', `/admin/v1/credentials${query}`)
  const filter = field(t('credentials.filter'), { name: 'resident', value: residentId, autocomplete: 'off' })
  const filterForm = h('form', { novalidate: true, class: 'grid2' }, filter.wrap, h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button secondary' }, t('credentials.filter.submit'))))
  filterForm.addEventListener('submit', (event) => {
    event.preventDefault()
    go(`#/credentials/${encodeURIComponent(filter.input.value.trim())}`)
  })
  const act = (credential, action) => {
    const control = button(t(`credentials.${action}`), async () => {
      if (!(await confirmDialog(t(`credentials.confirm.${action}`, { id: credential.id }), t(`credentials.${action}`)))) return
      const done = await busy(control, () => state.api.call('POST', `/admin/v1/credentials/${encodeURIComponent(credential.id)}/${action}`))
      if (done) {
        await credentials(null, residentId)
        announce(t(`credentials.done.${action}`))
      }
    }, { class: `button ${action === 'revoke' ? 'danger' : 'secondary'}`, 'aria-label': `${t(`credentials.${action}`)}: ${credential.id}` })
    return control
  }
  // One card per credential (a phone-width screen has no room for a wide table).
  const cards = page.items
    .slice()
    .reverse()
    .map((c) =>
      h(
        'li',
        { class: 'card issued', dataset: { credential: c.id, state: c.state } },
        h('h3', { class: 'mono' }, c.id),
        h('p', {}, h('span', { class: `badge ${c.state === 'valid' ? 'ok' : c.state === 'revoked' ? 'off' : 'warn'}` }, t(`cstate.${c.state}`))),
        h(
          'dl',
          { class: 'claims' },
          h('dt', {}, t('kyc.resident')), h('dd', { class: 'mono' }, c.resident_id),
          h('dt', {}, t('credentials.type')), h('dd', {}, typeLabel(c.vct || c.configuration_id)),
          h('dt', {}, t('credentials.issued')), h('dd', {}, formatDate(c.issued_at, { time: true })),
          h('dt', {}, t('credentials.index')), h('dd', {}, `${c.status_list_id} / ${c.status_index}`),
        ),
        h(
          'div',
          { class: 'row-actions' },
          c.state === 'valid' ? [act(c, 'suspend'), act(c, 'revoke')] : null,
          c.state === 'suspended' ? [act(c, 'reinstate'), act(c, 'revoke')] : null,
        ),
      ),
    )
  render(
    main,
    t('credentials.title'),
    h('p', { class: 'muted' }, t('credentials.intro')),
    filterForm,
    cards.length ? h('ul', { class: 'list' }, cards) : h('p', { class: 'muted' }, t('credentials.none')),
  )
}

async function statusLists() {
  const lists = (await state.api.call('GET', '/admin/v1/status-lists')).items
  const publish = button(t('status.publish'), async () => {
    const done = await busy(publish, () => state.api.call('POST', '/admin/v1/status-lists/publish'))
    if (done) {
      await statusLists()
      announce(t('status.published'))
    }
  }, { class: 'button' })
  const rows = lists.map((l) =>
    h(
      'tr',
      { dataset: { list: String(l.id), version: String(l.version) } },
      h('td', {}, h('a', { href: l.uri }, String(l.id))),
      h('td', {}, String(l.size)),
      h('td', {}, String(l.allocated)),
      h('td', {}, String(l.version)),
      h('td', {}, l.published_at ? formatDate(l.published_at, { time: true }) : '—'),
      h('td', {}, l.anchored_version === null ? '—' : String(l.anchored_version)),
    ),
  )
  render(
    main,
    t('status.title'),
    publish,
    table([t('status.list'), t('status.size'), t('status.allocated'), t('status.version'), t('status.published.at'), t('status.anchored')], rows),
  )
}

async function anchoring() {
  const view = await state.api.call('GET', '/admin/v1/receipts/anchoring')
  const rows = view.batches.map((b) =>
    h(
      'tr',
      { dataset: { batch: b.batch_id, state: b.state } },
      h('td', { class: 'mono' }, `${b.batch_id.slice(0, 12)}…`),
      h('td', {}, String(b.size)),
      h('td', {}, h('span', { class: `badge ${b.state === 'final' ? 'ok' : 'warn'}` }, t(`bstate.${b.state}`))),
      h('td', {}, b.block_number === null ? '—' : String(b.block_number)),
      h('td', { class: 'mono' }, b.tx_hash ? `${b.tx_hash.slice(0, 14)}…` : '—'),
    ),
  )
  render(
    main,
    t('anchoring.title'),
    h('p', { class: 'muted' }, t('anchoring.intro')),
    h(
      'dl',
      { class: 'claims' },
      h('dt', {}, t('anchoring.queued')), h('dd', { id: 'queued' }, String(view.queued)),
      h('dt', {}, t('anchoring.open')), h('dd', { id: 'open-batches' }, String(view.open_batches)),
    ),
    h('p', { class: 'muted' }, t('anchoring.rules', { size: view.batch_size, age: view.max_age_seconds, confirmations: view.confirmations })),
    h('h2', {}, t('anchoring.batches')),
    rows.length ? table([t('anchoring.batch'), t('anchoring.size'), t('anchoring.state'), t('anchoring.block'), t('anchoring.tx')], rows) : h('p', { class: 'muted' }, t('anchoring.none')),
  )
}

// -- registered services (operator) -------------------------------------------------------------

// The resident card's claims a service may be registered for, as DCQL paths.
const CARD_CLAIMS = [
  ['age_equal_or_over', '18'], ['age_equal_or_over', '20'], ['age_equal_or_over', '65'],
  ['address', 'locality'], ['address', 'region'], ['address', 'postal_code'], ['address', 'street_address'],
  ['family_name'], ['given_name'], ['birthdate'], ['resident_since'],
]

async function cityVct() {
  const metadata = await (await fetch('/.well-known/openid-credential-issuer/issuer', { cache: 'no-cache' })).json()
  const config = Object.values(metadata.credential_configurations_supported || {})[0]
  return config ? config.vct : ''
}

function serviceCard(s) {
  return h(
    'li',
    { class: 'card service', dataset: { service: s.service_did } },
    h('h3', {}, s.name),
    h('p', { class: 'mono' }, s.service_did),
    h(
      'dl',
      { class: 'claims' },
      h('dt', {}, t('services.purposes')), h('dd', {}, s.purposes.map((p) => h('div', {}, p.description))),
      h('dt', {}, t('services.claims')),
      h('dd', {}, s.claim_sets.map((c) => h('div', {}, `${c.id}: ${c.paths.map((p) => claimLabel(p)).join(', ')}`))),
      h('dt', {}, t('services.retention')), h('dd', {}, t('services.days', { days: s.retention_days })),
      h('dt', {}, t('services.until')), h('dd', {}, formatDate(s.expires_at)),
    ),
  )
}

async function services() {
  const listing = await state.api.call('GET', '/admin/v1/services?limit=100')
  const vct = await cityVct()
  const did = field(t('services.did'), { name: 'service_did', autocomplete: 'off', required: true, spellcheck: 'false' })
  const name = field(t('services.name'), { name: 'name', autocomplete: 'off', required: true })
  const purpose = field(t('services.purpose'), { name: 'purpose', autocomplete: 'off', required: true }, t('services.purpose.hint'))
  const legendId = 'claims-legend'
  const boxes = CARD_CLAIMS.map((path) => {
    const id = `claim-${path.join('-')}`
    const box = h('input', { type: 'checkbox', id, value: JSON.stringify(path) })
    return { box, row: h('div', { class: 'check' }, box, h('label', { for: id }, claimLabel(path))) }
  })
  const claims = h('fieldset', { 'aria-describedby': legendId }, h('legend', { id: legendId }, t('services.claims.pick')), boxes.map((b) => b.row))
  const retention = field(t('services.retention'), { name: 'retention_days', type: 'number', min: '0', max: '36500', value: '30', required: true })
  const receipts = field(t('services.receipts'), { name: 'receipt_endpoint', type: 'url', autocomplete: 'off', required: true }, t('services.https'))
  const policy = field(t('services.policy'), { name: 'privacy_policy', type: 'url', autocomplete: 'off', required: true }, t('services.https'))
  const submit = h('button', { type: 'submit', class: 'button' }, t('services.register'))
  const form = h('form', { novalidate: true }, did.wrap, name.wrap, purpose.wrap, claims, h('div', { class: 'grid2' }, retention.wrap), receipts.wrap, policy.wrap, submit)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const chosen = boxes.filter((b) => b.box.checked).map((b) => JSON.parse(b.box.value))
    const required = [did, name, purpose, retention, receipts, policy]
    const missing = required.find((f) => !f.input.value.trim())
    required.forEach((f) => f.input.toggleAttribute('aria-invalid', !f.input.value.trim()))
    if (missing || !chosen.length) {
      ;(missing ? missing.input : boxes[0].box).focus()
      announce(t('error.required', { field: missing ? missing.wrap.querySelector('label').textContent : t('services.claims.pick') }), { error: true })
      return
    }
    const body = {
      service_did: did.input.value.trim(),
      name: name.input.value.trim(),
      purposes: [{ id: 'purpose-1', description: purpose.input.value.trim() }],
      claim_sets: [{ id: 'claims', vct, paths: chosen }],
      retention_days: Number(retention.input.value),
      receipt_endpoint: receipts.input.value.trim(),
      privacy_policy: policy.input.value.trim(),
      jurisdiction: 'JP',
    }
    const made = await busy(submit, () => state.api.call('POST', '/admin/v1/services', body), { context: 'services' })
    if (made) {
      await services()
      announce(t('services.registered', { name: made.name }))
    }
  })
  render(
    main,
    t('services.title'),
    h('p', { class: 'muted' }, t('services.intro')),
    listing.items.length ? h('ul', { class: 'list' }, listing.items.slice().reverse().map(serviceCard)) : h('p', { class: 'muted' }, t('services.none')),
    h('h2', {}, t('services.new')),
    form,
  )
}

// -- open data (operator) ----------------------------------------------------------------------

function releaseTable(release) {
  const parameters = release.statistics.parameters
  const rows = release.statistics.cells.map((c) =>
    h('tr', { dataset: { cell: `${c.service}/${c.claim_set}` } }, h('td', {}, c.service_name || c.service), h('td', {}, c.claim_set),
      h('td', {}, c.suppressed ? t('opendata.suppressed', { k: parameters.k_threshold }) : String(c.count))),
  )
  return h(
    'section',
    { class: 'card release', 'aria-labelledby': `rel-${release.id}`, dataset: { release: release.id } },
    h('h3', { id: `rel-${release.id}` }, release.id),
    h('p', { class: 'muted' }, t('opendata.params', { epsilon: release.epsilon, k: release.k_threshold, scale: Number(parameters.noise_scale).toFixed(2) })),
    table([t('opendata.service'), t('opendata.claimset'), t('opendata.count')], rows),
  )
}

async function openData() {
  const [releases, ledger] = await Promise.all([
    state.api.call('GET', '/admin/v1/open-data/releases'),
    state.api.call('GET', '/admin/v1/open-data/ledger'),
  ])
  const month = field(t('opendata.period'), { name: 'period', type: 'month', required: true, value: new Date().toISOString().slice(0, 7) })
  const epsilon = field(t('opendata.epsilon'), { name: 'epsilon', type: 'number', min: '0.001', max: '10', step: '0.001', value: '0.5', required: true }, t('opendata.epsilon.hint'))
  const k = field(t('opendata.k'), { name: 'k_threshold', type: 'number', min: '10', step: '1', value: '10', required: true }, t('opendata.k.hint'))
  const submit = h('button', { type: 'submit', class: 'button' }, t('opendata.release'))
  const result = h('div', { class: 'outcome' })
  const form = h('form', { novalidate: true }, month.wrap, h('div', { class: 'grid2' }, epsilon.wrap, k.wrap), submit)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const body = { period: month.input.value, epsilon: Number(epsilon.input.value), k_threshold: Number(k.input.value) }
    const release = await busy(submit, () => state.api.call('POST', '/admin/v1/open-data/releases', body), { context: 'opendata' })
    if (release) {
      await openData()
      announce(t('opendata.released', { id: release.id }))
    }
  })
  const spent = {}
  for (const e of ledger.entries) spent[e.period] = (spent[e.period] || 0) + Number(e.epsilon)
  const budgetRows = Object.entries(spent).map(([period, total]) =>
    h('tr', { dataset: { period } }, h('td', {}, period), h('td', {}, String(Math.round(total * 1000) / 1000)), h('td', {}, ledger.budget_per_period)),
  )
  render(
    main,
    t('opendata.title'),
    h('p', { class: 'muted' }, t('opendata.intro', { budget: ledger.budget_per_period })),
    form,
    result,
    h('h2', {}, t('opendata.ledger')),
    budgetRows.length ? table([t('opendata.period'), t('opendata.spent'), t('opendata.budget')], budgetRows) : h('p', { class: 'muted' }, t('opendata.none')),
    h('h2', {}, t('opendata.releases')),
    releases.items.length ? releases.items.slice().reverse().map(releaseTable) : h('p', { class: 'muted' }, t('opendata.none')),
  )
}

// -- elections (operator: create, commit, open, close, publish; issuer: eligibility offers) --------

const ELECTION_ACTIONS = { draft: 'commit', committed: 'open', open: 'close', closed: 'publish' }

function localInput(iso) {
  const d = new Date(iso)
  const pad = (n) => String(n).padStart(2, '0')
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`
}

function lines(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean)
}

function tallyTable(e) {
  const counts = e.tally.counts
  const rows = e.election.choices.map((c) => h('tr', { dataset: { choice: c } }, h('td', {}, c), h('td', {}, String(counts[c] ?? 0))))
  return h(
    'div',
    { class: 'tally' },
    h('p', { class: 'notice ok' }, t('elections.tally.verified', { ballots: e.tally.ballots, batches: e.tally.batches })),
    table([t('elections.choice'), t('elections.votes')], rows, { caption: t('elections.tally') }),
  )
}

function eligibilityForm(e) {
  const family = field(t('kyc.family'), { name: 'family_name', autocomplete: 'off', required: true })
  const given = field(t('kyc.given'), { name: 'given_name', autocomplete: 'off', required: true })
  const birthdate = field(t('kyc.birthdate'), { name: 'birthdate', type: 'date', required: true })
  const address = field(t('kyc.address'), { name: 'address', autocomplete: 'off', required: true }, t('kyc.address.hint'))
  const submit = h('button', { type: 'submit', class: 'button' }, t('elections.offer.submit'))
  const outcome = h('div', { class: 'outcome' })
  const headingId = `elig-${e.election_id}`
  const form = h('form', { novalidate: true, 'aria-labelledby': headingId }, family.wrap, given.wrap, birthdate.wrap, address.wrap, submit)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const fields = [family, given, birthdate, address]
    const missing = fields.find((f) => !f.input.value.trim())
    fields.forEach((f) => f.input.toggleAttribute('aria-invalid', !f.input.value.trim()))
    if (missing) {
      missing.input.focus()
      announce(t('error.required', { field: missing.wrap.querySelector('label').textContent }), { error: true })
      return
    }
    const body = { family_name: family.input.value.trim(), given_name: given.input.value.trim(), birthdate: birthdate.input.value, address: address.input.value.trim() }
    const answer = await busy(submit, () => state.api.call('POST', `/admin/v1/elections/${encodeURIComponent(e.election_id)}/eligibility-offers`, body), { context: 'elections' })
    if (!answer) return
    const titleId = `elig-outcome-${e.election_id}`
    const parts = answer.outcome === 'offered'
      ? [
          h('p', { class: 'notice ok' }, t('elections.offer.ok', { district: answer.district })),
          h('dl', { class: 'claims' },
            h('dt', {}, t('elections.offer.link')), h('dd', { class: 'mono', id: 'eligibility-offer' }, answer.offer_uri),
            h('dt', {}, t('kyc.pin')), h('dd', { class: 'pin', id: 'eligibility-pin' }, answer.tx_code)),
        ]
      : [h('p', { class: 'notice error' }, t(`elections.offer.no.${answer.reason}`) || answer.reason)]
    outcome.replaceChildren(h('section', { class: 'card', 'aria-labelledby': titleId, dataset: { outcome: answer.outcome } },
      h('h4', { id: titleId, tabindex: '-1' }, t('kyc.outcome')), parts))
    outcome.querySelector('h4').focus()
    if (answer.outcome === 'offered') fields.forEach((f) => (f.input.value = ''))
  })
  return h('div', { class: 'eligibility' }, h('h4', { id: headingId }, t('elections.offer')), h('p', { class: 'muted' }, t('elections.offer.intro')), form, outcome)
}

function electionCard(e) {
  const facts = [
    h('dt', {}, t('elections.state')), h('dd', { class: 'state' }, t(`elections.s.${e.state}`)),
    h('dt', {}, t('elections.period')), h('dd', {}, `${formatDate(e.election.opens_at, { time: true })} – ${formatDate(e.election.closes_at, { time: true })}`),
    h('dt', {}, t('elections.choices')), h('dd', {}, e.election.choices.join(', ')),
    h('dt', {}, t('elections.districts')), h('dd', {}, e.election.districts.map((d) => d.district).join(', ') || '—'),
    h('dt', {}, t('elections.service')), h('dd', { class: 'mono' }, e.voting_service_url),
    h('dt', {}, t('elections.issuer')), h('dd', { class: 'mono' }, e.token_issuer),
  ]
  if (e.anchor) {
    facts.push(
      h('dt', {}, t('elections.contract')), h('dd', { class: 'mono contract' }, e.anchor.contract),
      h('dt', {}, t('elections.committed')),
      h('dd', {}, e.anchor.commitments.map((c) => h('div', { class: 'commitment' }, t('elections.committed.at', { key: c.district || t('elections.key.one'), block: c.block_number })))),
    )
  }
  if (e.ballot_page) facts.push(h('dt', {}, t('elections.ballot_page')), h('dd', { class: 'mono', id: `ballot-page-${e.election_id}` }, e.ballot_page))
  const card = h('li', { class: 'card election', dataset: { election: e.election_id, state: e.state } },
    h('h3', {}, e.election.title), h('p', { class: 'mono muted' }, e.election_id), h('dl', { class: 'claims' }, facts))
  const action = ELECTION_ACTIONS[e.state]
  if (action && allowed('operator')) {
    const extra = []
    let anchorer = null
    if (action === 'commit') {
      anchorer = field(t('elections.anchorer'), { name: 'anchorer', autocomplete: 'off', spellcheck: 'false', id: `anchorer-${e.election_id}` }, t('elections.anchorer.hint'))
      extra.push(anchorer.wrap)
    }
    const control = button(t(`elections.do.${action}`, { id: e.election_id }), async () => {
      if (action === 'close' && !(await confirmDialog(t('elections.confirm.close', { title: e.election.title }), t('elections.do.close')))) return
      const body = action === 'commit' ? (anchorer.input.value.trim() ? { anchorer: anchorer.input.value.trim() } : {}) : undefined
      const done = await busy(control, () => state.api.call('POST', `/admin/v1/elections/${encodeURIComponent(e.election_id)}/${action}`, body),
        { context: 'elections', working: t(`elections.working.${action}`) })
      if (done) {
        await elections()
        announce(t(`elections.done.${action}`, { title: e.election.title }))
      }
    }, { class: action === 'close' ? 'button danger' : 'button', 'aria-label': t(`elections.do.${action}.label`, { title: e.election.title }) })
    card.append(h('div', { class: 'actions' }, extra, control))
  }
  if (e.state === 'open' && allowed('issuer')) card.append(eligibilityForm(e))
  if (e.tally) card.append(tallyTable(e))
  return card
}

function electionForm() {
  const soon = new Date(Date.now() + 3600e3)
  soon.setMinutes(0, 0, 0)
  const later = new Date(soon.getTime() + 12 * 3600e3)
  const id = field(t('elections.id'), { name: 'election_id', autocomplete: 'off', required: true, spellcheck: 'false', pattern: '[a-z0-9][a-z0-9-]*' }, t('elections.id.hint'))
  const title = field(t('elections.title.field'), { name: 'title', autocomplete: 'off', required: true })
  const choices = field(t('elections.choices'), { name: 'choices', multiline: true, rows: '3', required: true }, t('elections.choices.hint'))
  const districts = field(t('elections.districts'), { name: 'districts', multiline: true, rows: '2' }, t('elections.districts.hint'))
  const day = field(t('elections.day'), { name: 'election_day', type: 'date', required: true, value: later.toISOString().slice(0, 10) })
  const opens = field(t('elections.opens'), { name: 'opens_at', type: 'datetime-local', required: true, value: localInput(soon) })
  const closes = field(t('elections.closes'), { name: 'closes_at', type: 'datetime-local', required: true, value: localInput(later) })
  const service = field(t('elections.service'), { name: 'voting_service_url', type: 'url', autocomplete: 'off', required: true }, t('elections.service.hint'))
  const perDistrict = h('input', { type: 'checkbox', id: 'per-district', name: 'per_district' })
  const submit = h('button', { type: 'submit', class: 'button' }, t('elections.create'))
  const form = h('form', { novalidate: true }, id.wrap, title.wrap, choices.wrap, districts.wrap, day.wrap,
    h('div', { class: 'grid2' }, opens.wrap, closes.wrap), service.wrap,
    h('div', { class: 'check' }, perDistrict, h('label', { for: 'per-district' }, t('elections.per_district'))), submit)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const required = [id, title, choices, day, opens, closes, service]
    const missing = required.find((f) => !f.input.value.trim())
    required.forEach((f) => f.input.toggleAttribute('aria-invalid', !f.input.value.trim()))
    if (missing) {
      missing.input.focus()
      announce(t('error.required', { field: missing.wrap.querySelector('label').textContent }), { error: true })
      return
    }
    const body = {
      election_id: id.input.value.trim(),
      title: title.input.value.trim(),
      choices: lines(choices.input.value),
      districts: lines(districts.input.value).map((line) => {
        const [district, city, ...prefixes] = line.split(',').map((x) => x.trim())
        return { district, city: city || '', postal_code_prefixes: prefixes.filter(Boolean) }
      }),
      election_day: day.input.value,
      opens_at: new Date(opens.input.value).toISOString(),
      closes_at: new Date(closes.input.value).toISOString(),
      per_district: perDistrict.checked,
      voting_service_url: service.input.value.trim(),
    }
    const made = await busy(submit, () => state.api.call('POST', '/admin/v1/elections', body), { context: 'elections', working: t('elections.working.create') })
    if (made) {
      await elections()
      announce(t('elections.created', { title: made.election.title }))
    }
  })
  return form
}

async function elections() {
  const listing = await state.api.call('GET', '/admin/v1/elections')
  render(
    main,
    t('elections.heading'),
    h('p', { class: 'muted' }, t('elections.intro')),
    listing.items.length ? h('ul', { class: 'list' }, listing.items.map(electionCard)) : h('p', { class: 'muted' }, t('elections.none')),
    allowed('operator') ? [h('h2', {}, t('elections.new')), electionForm()] : null,
  )
}

function switchLanguage() {
  setLanguage(language() === 'ja' ? 'en' : 'ja')
  route()
}

const SCREENS = { home, residents, kyc, credentials, status: statusLists, anchoring, services, elections, opendata: openData }

async function route() {
  const [name, ...args] = (location.hash.slice(2) || 'home').split('/')
  if (!state.api) {
    chrome()
    signIn()
    return
  }
  const section = SECTIONS.find(([n]) => n === name)
  const screen = section && allowed(section[2]) ? SCREENS[name] : home
  chrome()
  try {
    await screen(name, ...args.map(decodeURIComponent))
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut()
      return
    }
    announce(t('app.error', { code: error.code || error.name, id: error.requestId || '-' }), { error: true })
  }
}

async function start() {
  setLanguage(language())
  const saved = sessionStorage.getItem(TOKEN_KEY)
  if (saved) {
    const api = new AdminApi(saved)
    try {
      state.me = await api.call('GET', '/admin/v1/me')
      state.api = api
    } catch {
      sessionStorage.removeItem(TOKEN_KEY)
    }
  }
  window.addEventListener('hashchange', route)
  await route()
  document.body.dataset.ready = 'true'
}

start()
