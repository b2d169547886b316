// The code identity of a stage: a hash over its module and every local module it imports, transitively, so an
// edit to a shared library (e.g. the training loop) re-runs the stages that use it. A script counts by what
// runs: its code with comments, formatting and TypeScript types taken out (esbuild's whitespace minifier, which
// keeps every name and token), so rewording a comment re-runs nothing, and a module imported only for its
// types does not count. Files a module loads by
// `new URL('./file', import.meta.url)` count too (a worker script, an assembled WebAssembly module; from
// sources, a .wasm is found as the .wat it is assembled from). Packages under
// node_modules are not followed: their versions change rarely and the ones that matter numerically
// (TensorFlow.js) are part of the runtime facts.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { transform } from 'esbuild';

// Static `import … from '…'`, `export … from '…'`, side-effect `import '…'` and dynamic `import('…')`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;
// Assets: `new URL('./…', import.meta.url)`.
const ASSET = /\bnew\s+URL\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*,\s*import\.meta\.url\s*\)/g;
/** Files whose text is scanned for further imports; anything else is hashed as bytes only. */
const SCRIPT = /\.(?:[cm]?[jt]s)$/;

function resolveLocal(from: string, specifier: string): string | undefined {
  const path = resolve(dirname(from), specifier);
  // TypeScript sources import './x.js' that exists only as './x.ts' until compiled.
  const candidates = [path, path.replace(/\.js$/, '.ts'), path.replace(/\.mjs$/, '.mts'), path.replace(/\.wasm$/, '.wat'), `${path}.ts`, `${path}.js`];
  return candidates.find((c) => existsSync(c) && !c.endsWith('/'));
}

/** A script's code as it runs (see the top), by the hash of its bytes: stages share most of their modules. */
const strippedCode = new Map<string, Promise<string>>();

function codeOf(file: string, bytes: Buffer): Promise<string> {
  const raw = createHash('sha256').update(bytes).digest('hex');
  let code = strippedCode.get(raw);
  if (!code) {
    const text = bytes.toString('utf8');
    const loader = /^\.[cm]?ts$/.test(extname(file)) ? 'ts' : 'js';
    // A file esbuild cannot parse counts by its whole text: it fails when imported, and its key still moves with it.
    code = transform(text, { loader, minifyWhitespace: true, legalComments: 'none' }).then((r) => r.code, () => text);
    strippedCode.set(raw, code);
  }
  return code;
}

const treeHashes = new Map<string, Promise<string>>();

/** sha256 over the sorted (path relative to the entry's folder, content hash) pairs of the module tree. */
export function moduleTreeHash(entry: string): Promise<string> {
  let hash = treeHashes.get(entry);
  if (!hash) {
    hash = computeTreeHash(entry);
    treeHashes.set(entry, hash);
  }
  return hash;
}

async function computeTreeHash(entry: string): Promise<string> {
  const seen = new Map<string, string>();
  // Breadth first, a level's files at once: the code of each is stripped in esbuild's own process.
  let level = [entry];
  while (level.length) {
    const next = await Promise.all(level.map((file) => hashFile(file, seen)));
    level = [...new Set(next.flat())].filter((file) => !seen.has(file));
  }
  // Relative to the entry's folder, so the hash is the same in every checkout.
  const base = dirname(entry);
  const lines = [...seen].map(([file, digest]) => `${relativeTo(base, file)} ${digest}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** Puts the file's digest in `seen`; returns the local files it imports or loads. */
async function hashFile(file: string, seen: Map<string, string>): Promise<string[]> {
  const bytes = await readFile(file);
  if (!SCRIPT.test(file)) {
    seen.set(file, createHash('sha256').update(bytes).digest('hex'));
    return [];
  }
  const text = await codeOf(file, bytes);
  seen.set(file, createHash('sha256').update(text).digest('hex'));
  const deps: string[] = [];
  for (const match of [...text.matchAll(SPECIFIER), ...text.matchAll(ASSET)]) {
    const dep = resolveLocal(file, match[2]);
    if (dep && !dep.includes('/node_modules/')) deps.push(dep);
  }
  return deps;
}

function relativeTo(base: string, file: string): string {
  const a = base.split('/');
  const b = file.split('/');
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/');
}
