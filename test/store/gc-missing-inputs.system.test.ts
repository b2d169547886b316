// `pipe cache gc` with the default pipeline set (./pipelines/*.yaml) in a checkout without FER2013: the FER2013
// pipelines cannot be planned there, so gc keeps every entry they made, warns, and carries on with the rest.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { RunRecord } from '../../src/runs/record.js';
import { PIPE_BIN, REPO_ROOT } from '../../harness/toy-project.js';

/** A FER2013-format CSV with a few 48×48 rows in each official split. */
function fakeFer2013(offset: number): Buffer {
  const rows = ['emotion,pixels,Usage'];
  const usages = ['Training', 'PublicTest', 'PrivateTest'];
  for (let i = 0; i < 21; i++) {
    const pixels = Array.from({ length: 48 * 48 }, (_, j) => (i * 37 + j * (offset + 1)) % 256).join(' ');
    rows.push(`${i % 7},${pixels},${usages[i % 3]}`);
  }
  return gzipSync(`${rows.join('\n')}\n`);
}

it('gc in a checkout without FER2013 keeps what the FER2013 pipelines made, warns, and removes the rest', async () => {
  // A checkout's pipelines/ folder, without data/ (as a fresh clone has it).
  const checkout = await mkdtemp(join(tmpdir(), 'pipe-gc-clone-'));
  await cp(join(REPO_ROOT, 'pipelines'), join(checkout, 'pipelines'), { recursive: true });
  await cp(join(REPO_ROOT, 'schemas'), join(checkout, 'schemas'), { recursive: true });
  const store = await mkdtemp(join(tmpdir(), 'pipe-gc-store-'));
  const pipe = (args: string[]) =>
    spawnSync(process.execPath, [PIPE_BIN, ...args], { cwd: checkout, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: store } });

  // Two versions of the data: two ingest entries, of which only the newer is in the latest run.
  await mkdir(join(checkout, 'data'));
  const ingestKeys: string[] = [];
  for (const version of [1, 2]) {
    await writeFile(join(checkout, 'data', 'fer2013.csv.gz'), fakeFer2013(version));
    const run = pipe(['run', 'pipelines/fer2013-baseline.yaml', '--until', 'ingest', '--json']);
    assert.equal(run.status, 0, run.stderr);
    ingestKeys.push((JSON.parse(run.stdout) as RunRecord).stages.ingest.key);
  }
  assert.notEqual(ingestKeys[0], ingestKeys[1]);
  await rm(join(checkout, 'data'), { recursive: true });

  // An entry no pipeline uses: the quickstart's faces stage at another count, then the default count.
  for (const count of ['30', '40']) {
    const run = pipe(['run', 'pipelines/quickstart.yaml', '--until', 'faces', '--set', `faces.count=${count}`]);
    assert.equal(run.status, 0, run.stderr);
  }
  const before = await readdir(join(store, 'entries'), { recursive: true });

  const gc = pipe(['cache', 'gc', '--all-unused']);
  assert.equal(gc.status, 0, gc.stderr);
  assert.match(gc.stderr, /warning: pipelines\/fer2013-baseline\.yaml: stage 'ingest': path: file not found: .*fer2013\.csv\.gz; keeping the 2 entries pipeline 'fer2013-baseline' made/);
  assert.match(gc.stdout, /removed 1 entry/);
  for (const key of ingestKeys) assert.ok(existsSync(join(store, 'entries', key.slice(0, 2), key, 'manifest.json')), `ingest entry ${key.slice(0, 8)} kept`);
  const after = await readdir(join(store, 'entries'), { recursive: true });
  assert.ok(after.length < before.length);
});
