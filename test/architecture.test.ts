// The layering of the source tree (docs/architecture.md): imports run downward only, and no module reaches
// itself through its imports. A new folder under src/ must be given its place in LAYERS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * Top to bottom: a module may import its own layer and those below it. `core` is the files directly in src/.
 * Libraries are ordered among themselves too, so that the graph of folders has no circle either.
 */
const LAYERS: string[][] = [
  ['cli'],
  ['ui'],
  ['run'],
  ['exec'],
  ['stages'],
  ['dashboard'],
  ['report'],
  ['train'],
  ['model'],
  ['data'],
  ['plan'],
  ['store'],
  ['runs'],
  ['config'],
  ['formats'],
  ['tf'],
  ['core'],
];

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The folder a module belongs to: stages/, src/<first folder>, or core. */
function layerOf(file: string): string {
  const parts = relative(repoRoot, file).split(sep);
  if (parts[0] === 'stages') return 'stages';
  return parts.length > 2 ? parts[1] : 'core';
}

/** Relative imports of a module, static and dynamic, resolved to source files. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found = new Set<string>();
  const pattern = /(?:import|export)\s[^'";]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|^\s*import\s+['"](\.[^'"]+)['"]/gm;
  for (const match of text.matchAll(pattern)) {
    const target = resolve(dirname(file), match[1] ?? match[2] ?? match[3]).replace(/\.js$/, '.ts');
    if (existsSync(target)) found.add(target);
  }
  return [...found];
}

const files = [...sourceFiles(join(repoRoot, 'src')), ...sourceFiles(join(repoRoot, 'stages'))];
const graph = new Map(files.map((f) => [f, importsOf(f)]));
const rank = new Map(LAYERS.flatMap((names, i) => names.map((name) => [name, i] as const)));
const name = (f: string) => relative(repoRoot, f).split(sep).join('/');

test('every source folder has a place in the layers', () => {
  const unplaced = [...new Set(files.map(layerOf))].filter((layer) => !rank.has(layer));
  assert.deepEqual(unplaced, [], 'add these folders to LAYERS in test/architecture.test.ts and to docs/architecture.md');
});

test('imports run downward only', () => {
  const upward: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const a = rank.get(layerOf(from));
      const b = rank.get(layerOf(to));
      if (a !== undefined && b !== undefined && b < a) upward.push(`${name(from)} → ${name(to)}`);
    }
  }
  assert.deepEqual(upward, []);
});

test('no module imports itself through others', () => {
  // Tarjan's strongly connected components: any component of more than one module is a circle.
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const circles: string[][] = [];
  const visit = (v: string): void => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indexOf.get(w)!));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(name(w));
      } while (w !== v);
      if (component.length > 1) circles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) visit(v);
  assert.deepEqual(circles, []);
});

test('the import scan sees imports (a check that cannot fail would prove nothing)', () => {
  const executor = join(repoRoot, 'src', 'exec', 'executor.ts');
  assert.ok((graph.get(executor) ?? []).some((f) => layerOf(f) === 'core'), 'src/exec/executor.ts imports from the core');
});
