// The wallet's service worker: the page's own files are fetched from the network first and kept
// for when the phone is offline. API answers (personal data) are never cached.
const CACHE = 'city-wallet-v1'
const SHELL = [
  '/app/',
  '/app/manifest.webmanifest',
  '/static/style.css',
  '/static/app/app.js',
  '/static/app/screens.js',
  '/static/app/vote.js',
  '/static/app/icon.svg',
  '/static/shared/api.js',
  '/static/shared/device.js',
  '/static/shared/i18n.js',
  '/static/shared/sdjwt.js',
  '/static/shared/status.js',
  '/static/shared/ui.js',
  '/static/shared/voting.js',
  '/static/vendor/jsqr/jsQR.js',
]

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  )
})

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url)
  if (event.request.method !== 'GET' || url.origin !== self.location.origin || !SHELL.includes(url.pathname)) return
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        const copy = response.clone()
        if (response.ok) caches.open(CACHE).then((cache) => cache.put(event.request, copy))
        return response
      })
      .catch(() => caches.match(event.request)),
  )
})
