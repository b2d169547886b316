#!/usr/bin/env node
// Writes dist/code-digests.json: for every built script, the digest of its code as it runs and the local files
// it names, keyed by the sha256 of its bytes (see src/plan/code-hash.ts). Runs after tsc in `npm run build`, so
// that planning pipe's own stages needs no esbuild process.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const { DIGEST_TABLE, stripAndDigest } = await import(join(dist, 'src', 'plan', 'code-hash.js'));
const target = join(dist, DIGEST_TABLE);
rmSync(target, { force: true });

function scripts(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? scripts(path) : /\.[cm]?js$/.test(e.name) ? [path] : [];
  });
}

const table = {};
await Promise.all(
  scripts(dist).map(async (file) => {
    const bytes = readFileSync(file);
    table[createHash('sha256').update(bytes).digest('hex')] = await stripAndDigest(file, bytes);
  }),
);
const sorted = Object.fromEntries(Object.entries(table).sort(([a], [b]) => (a < b ? -1 : 1)));
writeFileSync(`${target}.tmp`, `${JSON.stringify(sorted)}\n`);
renameSync(`${target}.tmp`, target);
console.log(`dist/${DIGEST_TABLE}: ${Object.keys(sorted).length} scripts`);
