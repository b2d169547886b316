// `npx pipe` in a checkout runs node_modules/.bin/pipe at once; it must not install and build the project
// into npm's npx cache first (how long it takes is measured by `npm run bench:npx`, not asserted here).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { REPO_ROOT } from '../../harness/toy-project.js';

it('npx pipe --help runs the local bin with an empty npm cache, installing nothing', async () => {
  const cache = await mkdtemp(join(tmpdir(), 'pipe-npm-cache-'));
  const r = spawnSync('npx', ['pipe', '--help'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, npm_config_cache: cache, npm_config_update_notifier: 'false', npm_config_yes: 'false' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Usage: pipe <command>/);
  assert.ok(!existsSync(join(cache, '_npx')), 'npx must not install the project into its cache');
  // The reason it works: the package declares no bin of its own, and `npm ci` links node_modules/.bin/pipe.
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin?: unknown };
  assert.equal(pkg.bin, undefined);
});
