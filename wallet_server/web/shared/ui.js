// DOM helpers shared by the pages. Text always goes in as text nodes (never as HTML), so nothing a
// server, a service or a QR code sends can become markup.

import { ApiError } from './api.js'
import { t } from './i18n.js'

/** h('p', {class: 'x', onclick: fn}, 'text', child, ...) */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue
    if (name.startsWith('on') && typeof value === 'function') el.addEventListener(name.slice(2), value)
    else if (name === 'class') el.className = value
    else if (name === 'dataset') Object.assign(el.dataset, value)
    else el.setAttribute(name, value === true ? '' : String(value))
  }
  append(el, children)
  return el
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue
    el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  }
}

let uid = 0
export function uniqueId(prefix) {
  uid += 1
  return `${prefix}-${uid}`
}

let announcedAt = 0

/** Say something to screen-reader users (and show it in the status line). */
export function announce(message, { error = false } = {}) {
  const region = document.getElementById('status')
  if (!region) return
  announcedAt = Date.now()
  region.textContent = ''
  region.classList.toggle('error', error)
  // A separate task, so the same message twice is announced twice.
  setTimeout(() => {
    region.textContent = message
  }, 30)
}

/** Clear the status line unless its message was just put there (it belongs to the new screen). */
export function clearStaleStatus() {
  const region = document.getElementById('status')
  if (region && Date.now() - announcedAt > 2000) {
    region.textContent = ''
    region.classList.remove('error')
  }
}

/** Replace the main region and move focus to its heading (the new screen's name). */
export function render(main, title, ...content) {
  // A screen the resident has left (its data came after they went elsewhere) draws nothing.
  if (main.stale) return null
  clearStaleStatus()
  const heading = h('h1', { tabindex: '-1', id: 'screen-title' }, title)
  main.replaceChildren(heading, ...content.flat(Infinity).filter(Boolean))
  document.title = `${title} — ${t('app.name')}`
  heading.focus()
  return heading
}

/** A labelled input with an optional hint; returns {wrap, input}. */
export function field(label, attrs = {}, hint = null) {
  const id = attrs.id || uniqueId('f')
  const hintId = hint ? `${id}-hint` : null
  const input = h(attrs.multiline ? 'textarea' : 'input', {
    ...attrs,
    multiline: null,
    id,
    'aria-describedby': hintId,
  })
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), hint ? h('p', { class: 'hint', id: hintId }, hint) : null, input)
  return { wrap, input }
}

export function button(label, onclick, attrs = {}) {
  return h('button', { type: 'button', class: 'button', ...attrs, onclick }, label)
}

/** A modal confirmation (native <dialog>: focus stays inside; Escape cancels). */
export function confirmDialog(message, confirmLabel) {
  return new Promise((resolve) => {
    const titleId = uniqueId('dlg')
    const dialog = h(
      'dialog',
      { 'aria-labelledby': titleId, class: 'dialog' },
      h('p', { id: titleId }, message),
      h(
        'div',
        { class: 'actions' },
        button(t('app.cancel'), () => dialog.close('cancel'), { class: 'button secondary' }),
        button(confirmLabel || t('app.confirm'), () => dialog.close('confirm'), { class: 'button danger' }),
      ),
    )
    dialog.addEventListener('close', () => {
      dialog.remove()
      resolve(dialog.returnValue === 'confirm')
    })
    document.body.append(dialog)
    dialog.showModal()
  })
}

/** A sentence for an error: a translated one for known codes, else the generic one with the request id. */
export function errorText(error, context) {
  const code = error && error.code
  if (code) {
    const specific = `error.${context}.${code}`
    const translated = t(specific)
    if (translated !== specific) return translated
  }
  if (error instanceof ApiError) return t('app.error', { code: error.code, id: error.requestId || '-' })
  if (!navigator.onLine) return t('app.offline')
  return t('app.error', { code: code || (error && error.name) || 'error', id: '-' })
}

/** Run an action behind a busy button; report failures in the status line. */
export async function busy(control, action, { context = 'app', working = null } = {}) {
  control.disabled = true
  control.setAttribute('aria-busy', 'true')
  if (working) announce(working)
  try {
    const result = await action()
    if (working) announce('') // the work is done; the caller says how it ended
    return result
  } catch (error) {
    announce(errorText(error, context), { error: true })
    return undefined
  } finally {
    control.disabled = false
    control.removeAttribute('aria-busy')
  }
}

export function shortDid(did) {
  const text = String(did || '')
  return text.length > 40 ? `${text.slice(0, 24)}…${text.slice(-8)}` : text
}
