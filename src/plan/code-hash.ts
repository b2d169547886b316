// The code identity of a stage: a hash over its module and every local module it imports, transitively, so an
// edit to a shared library (e.g. the training loop) re-runs the stages that use it. A script counts by what
// runs: its code with comments, formatting and TypeScript types taken out (esbuild's whitespace minifier, which
// keeps every name and token), so rewording a comment re-runs nothing, and a module imported only for its
// types does not count. Files a module loads by
// `new URL('./file', import.meta.url)` count too (a worker script, an assembled WebAssembly module; from
// sources, a .wasm is found as the .wat it is assembled from). Packages under
// node_modules are not followed: their versions change rarely and the ones that matter numerically
// (TensorFlow.js) are part of the runtime facts.
//
// Stripping takes esbuild's process, about 0.1 s of CPU a run: `npm run build` records every built module's
// result in dist/code-digests.json (scripts/code-digests.mjs), keyed by the hash of the module's bytes, so a
// run plans pipe's own stages without starting esbuild. A module not in it (a project's own stage, an edited
// file) is stripped as before; the table can only save work, never give another key.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** What the hash needs of a script: the digest of its code as it runs and the local files it names. */
export interface ScriptDigest {
  digest: string;
  /** Relative specifiers of its imports and `new URL(…, import.meta.url)` assets, in order of appearance. */
  specifiers: string[];
}

/** The table `npm run build` writes: sha256 of a module's bytes → its digest. */
export const DIGEST_TABLE = 'code-digests.json';
let table: Map<string, ScriptDigest> | undefined;

function builtTable(): Map<string, ScriptDigest> {
  if (!table) {
    table = new Map();
    try {
      // dist/src/plan/code-hash.js → dist/code-digests.json. Entries are checked for shape, not trusted as code.
      const path = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', DIGEST_TABLE);
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      for (const [raw, entry] of Object.entries(parsed)) {
        const e = entry as Partial<ScriptDigest>;
        if (typeof e?.digest === 'string' && Array.isArray(e.specifiers) && e.specifiers.every((x) => typeof x === 'string')) table.set(raw, { digest: e.digest, specifiers: e.specifiers });
      }
    } catch {
      // No table (running from sources, or a copy without it): every script is stripped.
    }
  }
  return table;
}

/** By the hash of its bytes: stages share most of their modules. */
const scriptDigests = new Map<string, Promise<ScriptDigest>>();

/** The digest of a script's code as it runs (see the top), and what it imports. */
export function scriptDigest(file: string, bytes: Buffer): Promise<ScriptDigest> {
  const raw = createHash('sha256').update(bytes).digest('hex');
  let found = scriptDigests.get(raw);
  if (!found) {
    const built = builtTable().get(raw);
    found = built ? Promise.resolve(built) : stripAndDigest(file, bytes);
    scriptDigests.set(raw, found);
  }
  return found;
}

export async function stripAndDigest(file: string, bytes: Buffer): Promise<ScriptDigest> {
  const text = bytes.toString('utf8');
  const loader = /^\.[cm]?ts$/.test(extname(file)) ? 'ts' : 'js';
  const { transform } = await import('esbuild');
  // A file esbuild cannot parse counts by its whole text: it fails when imported, and its key still moves with it.
  const code = await transform(text, { loader, minifyWhitespace: true, legalComments: 'none' }).then((r) => r.code, () => text);
  return {
    digest: createHash('sha256').update(code).digest('hex'),
    specifiers: [...code.matchAll(SPECIFIER), ...code.matchAll(ASSET)].map((m) => m[2]),
  };
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
  // Breadth first, a level's files at once: a script not in the built table is stripped in esbuild's own process.
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
  const { digest, specifiers } = await scriptDigest(file, bytes);
  seen.set(file, digest);
  const deps: string[] = [];
  for (const specifier of specifiers) {
    const dep = resolveLocal(file, specifier);
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
