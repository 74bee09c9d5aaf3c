// The ballot page (docs/voting.md, "The voter's device"): this phone checks the election's token key
// against the chain, gets a blind-signed ballot token from the city, casts the ballot directly at the
// voting service and keeps the receipt to check its inclusion later. The wallet server is not in
// this path: it never sees the serial, the token or the ballot (only the eligibility credential,
// which it stores like any other, is read from it).

import { listBallots, loadBallot, saveBallot } from '../shared/device.js'
import { formatDate, t } from '../shared/i18n.js'
import { readSdJwt } from '../shared/sdjwt.js'
import { announce, busy, button, errorText, field, h, render } from '../shared/ui.js'
import {
  ELIGIBILITY_CLAIMS,
  ballotCommitment,
  beginToken,
  checkTokenKey,
  finishToken,
  fromHex,
  prepareBallot,
  presentTopLevel,
  readAnchored,
  rootOf,
  tokenKeySlot,
  toHex,
  verifyInclusion,
} from '../shared/voting.js'

const RPC_KEY = 'vcsdk.rpc'

class VoteError extends Error {
  constructor(code) {
    super(code)
    this.code = code
  }
}

async function json(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store',
  })
  const answer = await response.json().catch(() => ({}))
  if (!response.ok) throw new VoteError(answer.code || answer.error || `http_${response.status}`)
  return answer
}

const join = (base, path) => `${base.replace(/\/+$/, '')}/${path}`

/** The wallet's eligibility credential for this election: its raw SD-JWT and claims. */
async function eligibility(app, electionId) {
  let cursor = null
  for (let i = 0; i < 10; i++) {
    const page = await app.api.call('GET', `/v1/credentials?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    for (const c of page.items) {
      if (!String(c.vct || '').endsWith('VotingEligibilityCredential')) continue
      const stored = await app.api.call('GET', `/v1/credentials/${encodeURIComponent(c.id)}`)
      const read = await readSdJwt(stored.credential)
      if (read.claims.election_id === electionId) return { token: stored.credential, claims: read.claims }
    }
    cursor = page.next_cursor
    if (!cursor) break
  }
  return null
}


function facts(record) {
  const e = record.election
  return h(
    'dl',
    { class: 'claims' },
    h('dt', {}, t('vote.opens')), h('dd', {}, formatDate(e.opens_at, { time: true })),
    h('dt', {}, t('vote.closes')), h('dd', {}, formatDate(e.closes_at, { time: true })),
    h('dt', {}, t('vote.service')), h('dd', { class: 'mono' }, new URL(record.service).host),
  )
}

/** Step 1: the election, and its token key checked against the chain. */
async function openElection(service, issuer, rpc) {
  const info = await json('GET', join(service, ''))
  const record = { service, issuer, rpc, election: info.election, name: info.name, contract: info.anchor.contract, keys: info.token_keys }
  return record
}

async function checkKey(record, district) {
  const key = record.keys.find((k) => k.district === district) || record.keys.find((k) => k.district === null)
  if (!key) throw new VoteError('no_key')
  const anchored = await readAnchored(record.rpc, record.contract, await tokenKeySlot(key.election_id, key.district))
  const problem = await checkTokenKey(key, record.election, anchored)
  if (problem) throw new VoteError(problem)
  return { key, block: anchored.blockNumber }
}

function chooser(record) {
  const group = h('fieldset', { class: 'choices' }, h('legend', {}, t('vote.choose')))
  record.election.choices.forEach((choice, i) => {
    const id = `choice-${i}`
    group.append(h('div', { class: 'check' }, h('input', { type: 'radio', name: 'choice', id, value: choice }), h('label', { for: id }, choice)))
  })
  return group
}

async function ballotScreen(app, main, record) {
  const parts = [h('p', { class: 'muted' }, record.name || ''), facts(record)]
  if (record.keyBlock) parts.push(h('p', { class: 'notice ok', id: 'key-checked' }, t('vote.key.ok', { block: record.keyBlock })))
  const status = h('div', { id: 'ballot-state', dataset: { state: record.receipt ? 'cast' : record.token ? 'token' : 'open' } })
  parts.push(status)
  if (!record.token) {
    const get = button(t('vote.token.get'), async () => {
      const done = await busy(get, async () => {
        const credential = await eligibility(app, record.election.election_id)
        if (!credential) throw new VoteError('not_eligible_here')
        const { key, block } = await checkKey(record, credential.claims.district ?? null)
        record.keyBlock = block
        // The serial is chosen and blinded here; the pending state stays on this phone until the answer.
        record.pending = record.pending || (await beginToken(key))
        await saveBallot(record)
        const { nonce } = await json('POST', join(record.issuer, 'nonce'), {})
        const presentation = await presentTopLevel(credential.token, ELIGIBILITY_CLAIMS, {
          audience: record.issuer, nonce, privateKey: app.device.keyPair.privateKey,
        })
        const answer = await json('POST', join(record.issuer, 'sign'), { presentation, nonce, blinded_msg: record.pending.blindedMsg })
        record.token = await finishToken(record.pending, answer.blind_sig)
        delete record.pending
        await saveBallot(record)
        return true
      }, { context: 'vote', working: t('vote.token.working') })
      if (done) {
        await ballotScreen(app, main, record)
        announce(t('vote.token.done'))
      }
    }, { class: 'button block' })
    status.append(h('p', {}, t('vote.token.intro')), get)
  } else if (!record.receipt) {
    const group = chooser(record)
    const cast = h('button', { type: 'submit', class: 'button block' }, t('vote.cast'))
    const form = h('form', { novalidate: true }, group, cast)
    form.addEventListener('submit', async (event) => {
      event.preventDefault()
      const picked = form.querySelector('input[name=choice]:checked')
      if (!picked) {
        group.querySelector('input').focus()
        announce(t('vote.choose.required'), { error: true })
        return
      }
      const done = await busy(cast, async () => {
        const ballot = await prepareBallot(record.election.election_id, picked.value)
        const receipt = await json('POST', join(record.service, 'ballots'), { token: record.token, choice: ballot.choice, salt: ballot.salt })
        // The receipt must be for this ballot: the same commitment of the same choice and salt.
        const commitment = toHex(await ballotCommitment(receipt.election_id, receipt.choice, fromHex(receipt.salt)))
        if (receipt.commitment !== ballot.commitment || commitment !== ballot.commitment) throw new VoteError('commitment_mismatch')
        record.receipt = { ...receipt, cast_at: new Date().toISOString() }
        await saveBallot(record)
        return true
      }, { context: 'vote', working: t('vote.casting') })
      if (done) {
        await ballotScreen(app, main, record)
        announce(t('vote.cast.done'))
      }
    })
    status.append(h('p', { class: 'notice ok' }, t('vote.token.have')), h('p', { class: 'muted' }, t('vote.secret')), form)
  } else {
    const verdict = h('div', { id: 'inclusion', 'aria-live': 'polite' })
    const check = button(t('vote.check'), async () => {
      await busy(check, async () => {
        const answer = await json('GET', join(record.service, `receipts/${record.receipt.commitment}`))
        if (!answer.proof) {
          verdict.replaceChildren(h('p', { class: 'notice', dataset: { verified: 'pending' } }, t('vote.check.pending')))
          return
        }
        const root = await rootOf(record.rpc, record.contract, fromHex(answer.proof.batch_id))
        const ok = root !== null && (await verifyInclusion(fromHex(record.receipt.commitment), answer.proof, root))
        verdict.replaceChildren(
          h('p', { class: `notice ${ok ? 'ok' : 'error'}`, dataset: { verified: String(ok) } },
            ok ? t('vote.check.ok', { batch: answer.proof.batch_id.slice(0, 14) }) : t('vote.check.bad')),
        )
      }, { context: 'vote', working: t('vote.check.working') })
    }, { class: 'button block' })
    status.append(
      h('p', { class: 'notice ok' }, t('vote.cast.done')),
      h('dl', { class: 'claims' },
        h('dt', {}, t('vote.receipt.choice')), h('dd', { id: 'voted-choice' }, record.receipt.choice),
        h('dt', {}, t('vote.receipt.commitment')), h('dd', { class: 'mono' }, record.receipt.commitment),
      ),
      h('p', { class: 'muted' }, t('vote.receipt.keep')),
      check,
      verdict,
    )
  }
  render(main, record.election.title, parts)
}

/** #/vote?service=…&issuer=…&rpc=… opens an election; #/vote lists the ones on this phone. */
export async function vote(app, main) {
  const params = new URLSearchParams(location.hash.split('?')[1] || '')
  const rpcDefault = params.get('rpc') || localStorage.getItem(RPC_KEY) || ''
  if (params.get('service') && params.get('issuer')) {
    let record
    try {
      const opened = await openElection(params.get('service'), params.get('issuer'), rpcDefault)
      record = (await loadBallot(opened.election.election_id)) || opened
      Object.assign(record, { rpc: rpcDefault || record.rpc })
    } catch (error) {
      render(main, t('vote.title'), h('p', { class: 'notice error' }, errorText(error, 'vote')))
      return
    }
    if (params.get('rpc')) localStorage.setItem(RPC_KEY, params.get('rpc'))
    await ballotScreen(app, main, record)
    return
  }
  const mine = await listBallots()
  const service = field(t('vote.service.url'), { name: 'service', type: 'url', autocomplete: 'off' })
  const issuer = field(t('vote.issuer.url'), { name: 'issuer', type: 'url', autocomplete: 'off' })
  const rpc = field(t('vote.rpc'), { name: 'rpc', type: 'url', autocomplete: 'off', value: rpcDefault }, t('vote.rpc.hint'))
  const open = h('button', { type: 'submit', class: 'button block' }, t('vote.open'))
  const form = h('form', { novalidate: true }, service.wrap, issuer.wrap, rpc.wrap, open)
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    const query = new URLSearchParams({ service: service.input.value.trim(), issuer: issuer.input.value.trim(), rpc: rpc.input.value.trim() })
    app.go(`#/vote?${query}`)
  })
  render(
    main,
    t('vote.title'),
    h('p', {}, t('vote.intro')),
    mine.length
      ? h('ul', { class: 'list' }, mine.map((r) => h('li', { class: 'card' }, h('h3', {}, h('a', {
          href: `#/vote?${new URLSearchParams({ service: r.service, issuer: r.issuer, rpc: r.rpc })}`,
        }, r.election.title)), h('p', { class: 'muted' }, r.receipt ? t('vote.cast.done') : t('vote.open.state')))))
      : h('p', { class: 'muted' }, t('vote.none')),
    h('h2', {}, t('vote.open')),
    form,
  )
}
