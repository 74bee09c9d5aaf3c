// The city's web wallet: start-up, the screens' router and the bottom navigation.

import { ApiError, WalletApi } from '../shared/api.js'
import { forgetDevice, loadDevice, newDeviceKey, saveDevice } from '../shared/device.js'
import { language, setLanguage, t } from '../shared/i18n.js'
import { announce, busy, field, h, render } from '../shared/ui.js'
import { SCREENS } from './screens.js'

const main = document.getElementById('main')
const tabs = document.getElementById('tabs')

const TABS = [
  ['#/wallet', 'nav.wallet', 'M3 7h18v12H3z M3 7l2-3h14l2 3 M16 13h2'],
  ['#/scan', 'nav.scan', 'M4 4h6v6H4z M14 4h6v6h-6z M4 14h6v6H4z M14 14h2v2h-2z M18 18h2v2h-2z'],
  ['#/activity', 'nav.activity', 'M4 5h16 M4 12h16 M4 19h10'],
  ['#/vote', 'nav.vote', 'M5 11l4 4 10-10 M4 20h16'],
  ['#/settings', 'nav.settings', 'M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8 M12 2v3 M12 19v3 M2 12h3 M19 12h3'],
]

export const app = {
  device: null,
  api: null,
  /** Go to a route (a hash such as '#/offer/off_1'); the router renders it. */
  go(hash) {
    if (location.hash === hash) route()
    else location.hash = hash
  },
  async forget() {
    await forgetDevice()
    app.device = null
    app.api = null
    app.go('#/welcome')
  },
  refreshChrome,
}

function icon(path) {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg')
  svg.setAttribute('viewBox', '0 0 24 24')
  svg.setAttribute('aria-hidden', 'true')
  svg.setAttribute('focusable', 'false')
  const p = document.createElementNS('http://www.w3.org/2000/svg', 'path')
  p.setAttribute('d', path)
  p.setAttribute('fill', 'none')
  p.setAttribute('stroke', 'currentColor')
  p.setAttribute('stroke-width', '2')
  p.setAttribute('stroke-linejoin', 'round')
  svg.append(p)
  return svg
}

function refreshChrome() {
  document.documentElement.lang = language()
  document.getElementById('brand').textContent = t('app.name')
  document.getElementById('skip').textContent = t('app.skip')
  tabs.setAttribute('aria-label', t('nav.label'))
  const current = `#/${(location.hash.slice(2) || 'wallet').split(/[/?]/)[0]}`
  const items = TABS.map(([href, key, path]) =>
    h('li', {}, h('a', { href, 'aria-current': href === current ? 'page' : null }, icon(path), h('span', {}, t(key)))),
  )
  tabs.replaceChildren(h('ul', {}, items))
  tabs.hidden = !app.device
}

function welcome() {
  const code = field(t('welcome.code'), { name: 'code', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', required: true }, t('welcome.code.hint'))
  const name = field(t('welcome.name'), { name: 'device-name', value: t('welcome.name.default'), autocomplete: 'off', maxlength: '100' })
  const submit = h('button', { type: 'submit', class: 'button block' }, t('welcome.submit'))
  const form = h('form', { novalidate: true }, code.wrap, name.wrap, submit)
  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    const text = code.input.value.trim()
    if (!text) {
      code.input.setAttribute('aria-invalid', 'true')
      code.input.focus()
      announce(t('error.required', { field: t('welcome.code') }), { error: true })
      return
    }
    code.input.removeAttribute('aria-invalid')
    await busy(submit, async () => {
      const { keyPair, publicJwk } = await newDeviceKey()
      const deviceName = name.input.value.trim() || t('welcome.name.default')
      const enrolled = await WalletApi.enrol(text, publicJwk, deviceName)
      const device = { keyPair, publicJwk, deviceId: enrolled.device.id, residentId: enrolled.resident_id, name: deviceName }
      await saveDevice(device)
      app.device = device
      app.api = new WalletApi(device)
      await app.api.login()
      announce(t('welcome.done'))
      app.go('#/wallet')
    }, { context: 'enrol' })
  })
  render(main, t('welcome.title'), h('p', {}, t('welcome.intro')), form)
}

let navigations = 0

/** The main element as one navigation's screen sees it: `stale` once the resident went elsewhere,
 * so a screen whose data arrives late (a re-render after a language change, a slow list) does not
 * replace the screen they are on (see `render`). */
function screenView(navigation) {
  return new Proxy(main, {
    get(target, prop) {
      if (prop === 'stale') return navigation !== navigations
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}

async function route() {
  const navigation = ++navigations
  // Query parameters (#/vote?service=…) are the screen's own to read.
  const [name, ...args] = (location.hash.slice(2) || 'wallet').split('?')[0].split('/')
  if (!app.device) {
    if (name !== 'welcome' && name !== 'open') history.replaceState(null, '', '#/welcome')
    refreshChrome()
    welcome()
    return
  }
  const screen = SCREENS[name] || SCREENS.wallet
  refreshChrome()
  try {
    await screen(app, screenView(navigation), ...args.map(decodeURIComponent))
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && error.code === 'authentication_failed') {
      // This phone's key is no longer registered (removed from another phone): start again.
      await app.forget()
      return
    }
    announce(t('app.error', { code: error.code || error.name, id: error.requestId || '-' }), { error: true })
  }
}

async function start() {
  setLanguage(language())
  app.device = await loadDevice()
  if (app.device) app.api = new WalletApi(app.device)
  window.addEventListener('hashchange', route)
  window.addEventListener('offline', () => announce(t('app.offline'), { error: true }))
  await route()
  if ('serviceWorker' in navigator) navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(() => {})
  document.body.dataset.ready = 'true'
}

start()
