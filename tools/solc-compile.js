#!/usr/bin/env node
// Compile Solidity with solc-js (the npm `solc` package pinned in package.json).
//
// Reads one JSON object on stdin: {"baseDir": "<contracts folder>", "inputs": [<standard JSON input>, ...]}
// and writes {"version": "<solc version>", "outputs": [<standard JSON output>, ...]} on stdout.
// Many inputs share one process so the compiler's WebAssembly loads once.
// Imports resolve only to files inside baseDir; nothing is fetched from the network.
'use strict'

const fs = require('node:fs')
const path = require('node:path')
const solc = require('solc')

function readStdin() {
  return fs.readFileSync(0, 'utf8')
}

function importResolver(baseDir) {
  const root = path.resolve(baseDir)
  return function findImports(importPath) {
    const resolved = path.resolve(root, importPath)
    if (resolved !== root && !resolved.startsWith(root + path.sep)) {
      return { error: `import ${importPath} is outside the contracts folder` }
    }
    try {
      return { contents: fs.readFileSync(resolved, 'utf8') }
    } catch (err) {
      return { error: `import ${importPath} not found` }
    }
  }
}

function main() {
  const request = JSON.parse(readStdin())
  const findImports = importResolver(request.baseDir)
  const outputs = request.inputs.map((input) =>
    JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }))
  )
  process.stdout.write(JSON.stringify({ version: solc.version(), outputs }))
}

main()
