'use strict';
// Build-time inventory of /opt/app/node, run by build.sh inside the rootfs.
//
// Prints JSON: every installed package (each copy, nested ones included) and
// the ones the app loads, found by requiring the app module exactly as its
// process does at start (app.js only listens when it is the main module).

const fs = require('fs');
const path = require('path');

const ROOT = '/opt/app/node';

function installedUnder(dir, out) {
  const modules = path.join(dir, 'node_modules');
  if (!fs.existsSync(modules)) return out;
  for (const entry of fs.readdirSync(modules).sort()) {
    if (entry.startsWith('.')) continue;
    const dirs = entry.startsWith('@')
      ? fs.readdirSync(path.join(modules, entry)).sort().map((s) => path.join(modules, entry, s))
      : [path.join(modules, entry)];
    for (const pkgDir of dirs) {
      const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
      out.push({ name: manifest.name, version: manifest.version, path: pkgDir });
      installedUnder(pkgDir, out);
    }
  }
  return out;
}

const { loadedPackages } = require(path.join(ROOT, 'app.js'));
const installed = installedUnder(ROOT, []).sort((a, b) => a.path.localeCompare(b.path));
process.stdout.write(`${JSON.stringify({ installed, loaded: loadedPackages() }, null, 1)}\n`);
