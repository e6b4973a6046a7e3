#!/usr/bin/env node
// Layering check: fails when a layer imports one it must not (style.md, architecture.md).
//   src/protocol  → nothing outside src/protocol (no packages, no Node built-ins)
//   src/contracts → only src/protocol/messages (the bottom layer all others may import)
//   src/core, images, devices, drivers, transports, sim, server, client(node parts), cli → never electron, react
//   src/renderer  → never Node built-ins, electron, or Node-only layers (core, server, drivers, …)
//   src/client    → no Node built-ins (it runs in the browser too), no electron/react
//   core, server, client, renderer, cli → no family folder (src/drivers/X, src/sim/X, src/transports/fastboot-*, …):
//                   they reach the families only through src/families.ts, the one file that lists them
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative, dirname, resolve, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const srcArg = process.argv.indexOf('--src');
const src = srcArg > 0 ? resolve(process.argv[srcArg + 1]) : join(root, 'src');
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (/\.(ts|tsx|mts|cts|js|mjs)$/.test(name)) yield p;
  }
}

const importRe = /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[\s;(])import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|[\s;])import\s*['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/gm;

const nodeOnly = ['core', 'images', 'devices', 'drivers', 'transports', 'sim', 'server', 'cli', 'main', 'preload'];
const rules = {
  protocol: { forbidPackages: true, forbidBuiltins: true, forbidLayers: ['*'] },
  // The bottom layer every layer may import: plain types and the error list; it imports only the wire.
  contracts: { forbidPackages: true, forbidBuiltins: true, forbidLayers: ['*'], allowShared: ['protocol/messages'] },
  core: { forbid: ['electron', 'react', 'react-dom'], forbidLayers: ['renderer', 'main', 'preload', 'server', 'cli'] },
  images: { forbid: ['electron', 'react', 'react-dom'], forbidLayers: ['renderer', 'main', 'preload', 'server', 'cli'] },
  devices: { forbid: ['electron', 'react', 'react-dom'], forbidLayers: ['renderer', 'main', 'preload', 'server', 'cli'] },
  drivers: { forbid: ['electron', 'react', 'react-dom'], forbidLayers: ['renderer', 'main', 'preload', 'server', 'cli'] },
  // Transports take their types and errors from src/contracts, never from the core.
  transports: { forbid: ['electron', 'react', 'react-dom'], forbidLayers: ['renderer', 'main', 'preload', 'server', 'cli', 'core'] },
  sim: { forbid: ['electron', 'react', 'react-dom'], forbidLayers: ['renderer', 'main', 'preload', 'server', 'cli'] },
  server: { forbid: ['electron', 'react', 'react-dom'], forbidLayers: ['renderer', 'main', 'preload', 'cli'] },
  cli: { forbid: ['electron', 'react', 'react-dom'], forbidLayers: ['renderer', 'main', 'preload'] },
  client: { forbid: ['electron', 'react', 'react-dom'], forbidBuiltins: true, forbidLayers: nodeOnly.concat(['renderer']) },
  renderer: { forbid: ['electron'], forbidBuiltins: true, forbidLayers: nodeOnly },
  main: { forbid: ['react', 'react-dom'], forbidLayers: ['renderer'] },
  preload: { forbidLayers: ['*'], allowOnly: ['electron'] },
};

// A family's own code: its driver folder, its simulator folder, its framing in src/transports.
const familyPath = /^(drivers\/[^/]+\/|sim\/[^/]+\/|transports\/fastboot-)/;
const familyBlind = new Set(['core', 'server', 'client', 'renderer', 'cli']);

const problems = [];
let files = 0;
for (const file of walk(src)) {
  files++;
  const rel = relative(src, file);
  const layer = rel.split(sep)[0];
  const rule = rules[layer];
  if (!rule) continue;
  const text = readFileSync(file, 'utf8');
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2] ?? m[3] ?? m[4];
    if (!spec) continue;
    const where = `${relative(dirname(src), file)} imports '${spec}'`;
    if (spec.startsWith('.')) {
      const target = relative(src, resolve(dirname(file), spec));
      const targetLayer = target.split(sep)[0];
      const targetPath = target.replace(/\\/g, '/');
      if (target.startsWith('..')) problems.push(`${where}: outside src/`);
      else if (familyBlind.has(layer) && familyPath.test(targetPath)) {
        problems.push(`${where}: ${layer} must not import a family folder; go through src/families.ts`);
      }
      else if (rule.allowShared?.includes(target.replace(/\\/g, '/').replace(/\.(js|ts)$/, ''))) continue;
      else if (targetLayer !== layer && rule.forbidLayers && (rule.forbidLayers.includes('*') || rule.forbidLayers.includes(targetLayer))) {
        problems.push(`${where}: layer ${layer} must not import ${targetLayer}`);
      }
      continue;
    }
    const isBuiltin = builtins.has(spec) || builtins.has(spec.split('/')[0]);
    if (rule.allowOnly && !rule.allowOnly.includes(spec)) problems.push(`${where}: ${layer} may import only ${rule.allowOnly.join(', ')}`);
    if (isBuiltin && rule.forbidBuiltins) problems.push(`${where}: ${layer} must not import Node built-ins`);
    if (!isBuiltin && rule.forbidPackages) problems.push(`${where}: ${layer} must not import packages`);
    const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
    if (rule.forbid?.includes(pkg)) problems.push(`${where}: ${layer} must not import ${pkg}`);
  }
}
if (problems.length) {
  console.error(`Layering check failed (${problems.length}):\n  ` + problems.join('\n  '));
  process.exit(1);
}
console.log(`Layering check: ${files} files, no forbidden imports.`);
