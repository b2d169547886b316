#!/usr/bin/env node
// Runs the built tests (dist/test/**/*.test.js) with Node's test runner.
//   node scripts/test.mjs            every test (npm test, CI)
//   node scripts/test.mjs --unit     the unit tests only: files not named *.system.test.js (npm run test:unit)
//   node scripts/test.mjs store/     only the files whose path under test/ contains one of the arguments
// System tests start processes (the CLI, Redis, an S3 server, a browser) or train whole models. Unit tests start none; a guard loaded
// into each unit test file (test/support/unit-guard) makes a process or a listening server there an error.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const testRoot = join(root, 'dist', 'test');
const args = process.argv.slice(2);
const unit = args.includes('--unit');
const filters = args.filter((a) => !a.startsWith('--'));

function testFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'support' && entry.name !== 'fixtures') out.push(...testFiles(path));
    } else if (entry.name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

let files;
try {
  // Only files whose source is still there: a test moved or deleted leaves its old build output behind.
  files = testFiles(testRoot)
    .filter((f) => existsSync(join(root, 'test', relative(testRoot, f)).replace(/\.js$/, '.ts')))
    .sort();
} catch {
  console.error('dist/test is missing: run `npm run build` first');
  process.exit(1);
}
if (unit) files = files.filter((f) => !f.endsWith('.system.test.js'));
// Longest first (measured), then the other system tests, then the unit tests, so that the last files to start are
// short and the cores stay busy to the end instead of one long file running alone. Three at a time on 2 cores:
// system tests spend part of their time waiting on the processes and servers they start.
const LONGEST = ['exec/bullmq/quickstart', 'run/quickstart', 'dashboard/', 'cli/use-results', 'exec/runner-cache', 'store/remote/cache', 'store/remote/gc', 'exec/bullmq/redis-restart', 'train/backends'];
const rank = (f) => {
  const path = relative(testRoot, f).split(sep).join('/');
  const i = LONGEST.findIndex((x) => path.startsWith(x));
  return i >= 0 ? i : path.endsWith('.system.test.js') ? LONGEST.length : LONGEST.length + 1;
};
files.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : 1));
if (filters.length) files = files.filter((f) => filters.some((x) => relative(testRoot, f).split(sep).join('/').includes(x)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}
const nodeArgs = ['--test', '--test-concurrency=3'];
if (unit) nodeArgs.push('--import', join(testRoot, 'support', 'unit-guard.js'));
const result = spawnSync(process.execPath, [...nodeArgs, ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
