#!/usr/bin/env node
// Copy the browser assets the wallet server serves from the npm packages pinned in package.json
// into wallet_server/web/vendor/ (not committed: `make setup` runs this after `npm ci`).
//
// Nothing is bundled or rewritten: each file is the package's own published file, byte for byte,
// with its licence beside it. vendor/VERSIONS.json records package, version and SHA-256 of every
// file, so the server (and the tests) can tell which pinned release is being served.
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const TOOLS = __dirname
const OUT = path.resolve(TOOLS, '..', 'wallet_server', 'web', 'vendor')

// [package, destination folder, files to copy (relative to the package root)]; a file given as
// [source, target] keeps a sub-folder (ES modules that import each other by relative path).
const ASSETS = [
  ['swagger-ui-dist', 'swagger-ui', ['swagger-ui-bundle.js', 'swagger-ui.css', 'LICENSE', 'NOTICE']],
  ['jsqr', 'jsqr', ['dist/jsQR.js', 'LICENSE']],
  // RFC 9474 blind RSA for the ballot page: the package's own ES modules (sjcl is vendored inside it).
  ['@cloudflare/blindrsa-ts', 'blindrsa', [
    'lib/src/index.js', 'lib/src/blindrsa.js', 'lib/src/partially_blindrsa.js', 'lib/src/prime.js',
    'lib/src/util.js', ['lib/src/sjcl/index.js', 'sjcl/index.js'], ['LICENSE.txt', 'LICENSE'],
  ]],
]

function packageRoot(name) {
  return path.join(TOOLS, 'node_modules', ...name.split('/'))
}

function main() {
  fs.rmSync(OUT, { recursive: true, force: true })
  const versions = {}
  for (const [name, folder, files] of ASSETS) {
    const root = packageRoot(name)
    const meta = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
    const entry = { version: meta.version, license: meta.license, files: {} }
    for (const file of files) {
      const [source, name] = Array.isArray(file) ? file : [file, path.basename(file)]
      const data = fs.readFileSync(path.join(root, source))
      const target = path.join(OUT, folder, name)
      fs.mkdirSync(path.dirname(target), { recursive: true })
      fs.writeFileSync(target, data)
      entry.files[`${folder}/${name}`] = crypto.createHash('sha256').update(data).digest('hex')
    }
    versions[name] = entry
  }
  fs.writeFileSync(path.join(OUT, 'VERSIONS.json'), JSON.stringify(versions, null, 2) + '\n')
  process.stdout.write(`web assets: ${Object.keys(versions).length} packages copied into ${path.relative(process.cwd(), OUT)}\n`)
}

main()
