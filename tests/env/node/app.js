'use strict';
// Kestrel test app (Node): a small catalogue service on 127.0.0.1:3000.
//
// It requires express and lodash, and never minimist, although minimist is
// installed in the same node_modules: tests of runtime-aware risk rely on that
// difference between installed and loaded packages.
//
// When it is serving it writes a ready file (KESTREL_READY_FILE, default
// /tmp/kestrel-ready.json) naming the packages in require.cache.

const fs = require('fs');
const path = require('path');
const express = require('express');
const _ = require('lodash');

const HOST = '127.0.0.1';
const PORT = 3000;
const READY_FILE = process.env.KESTREL_READY_FILE || '/tmp/kestrel-ready.json';
const NODE_MODULES = `${path.sep}node_modules${path.sep}`;

const items = [
  { name: 'falcon', price: 30 },
  { name: 'kestrel', price: 12 },
  { name: 'merlin', price: 21 },
];

const app = express();
app.get('/healthz', (req, res) => res.type('text/plain').send('ok\n'));
app.get('/items', (req, res) => res.json(_.sortBy(items, 'price')));

// The packages (one entry per installed copy) that own a module in require.cache.
function loadedPackages() {
  const byDir = new Map();
  for (const file of Object.keys(require.cache)) {
    const at = file.lastIndexOf(NODE_MODULES);
    if (at < 0) continue;
    const parts = file.slice(at + NODE_MODULES.length).split(path.sep);
    const name = parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
    const dir = file.slice(0, at + NODE_MODULES.length) + name;
    if (byDir.has(dir)) continue;
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
    byDir.set(dir, { name: manifest.name, version: manifest.version, path: dir });
  }
  return [...byDir.values()].sort((a, b) => a.path.localeCompare(b.path));
}

function writeReady() {
  const report = { app: 'node', pid: process.pid, uid: process.getuid(), loaded: loadedPackages() };
  fs.writeFileSync(`${READY_FILE}.partial`, JSON.stringify(report));
  fs.renameSync(`${READY_FILE}.partial`, READY_FILE);
}

function main() {
  const server = app.listen(PORT, HOST, writeReady);
  // As PID 1 of its container the process ignores SIGTERM unless it handles it.
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

if (require.main === module) main();

module.exports = { app, loadedPackages };
