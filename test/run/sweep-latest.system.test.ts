// A sweep beside a pipeline file's own run, through the real CLI on the tiny pipeline (two variants over
// train.epochs): the file still stands for its own run (`pipe export <file>`), each variant's links are under
// latest/<name>@<variant>/ while latest/<name>/ keeps the file's own, and `pipe cache gc` keeps the model of
// every variant and of the file's own run.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, realpath } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunRecord } from '../../src/runs/record.js';
import { pipeWithStore, TINY_PIPELINE, type PipeRunner } from '../support/tiny-pipeline.js';
import { PIPE_BIN } from '../../harness/toy-project.js';

function entryExists(store: string, key: string): boolean {
  return existsSync(join(store, 'entries', key.slice(0, 2), key, 'manifest.json'));
}

describe('a sweep beside the file it sweeps (tiny pipeline)', { concurrency: false }, () => {
  let runner: PipeRunner;
  let own: RunRecord;
  let variants: RunRecord[];

  before(async () => {
    runner = await pipeWithStore('pipe-sweep-latest-');
    // Two runs with --set (only faces): the older one's entry is the one thing gc may remove below.
    for (const count of ['300', '301']) {
      const early = runner.pipe(['run', TINY_PIPELINE, '--until', 'faces', '--set', `faces.count=${count}`]);
      assert.equal(early.status, 0, early.stderr);
    }
    const run = runner.pipe(['run', TINY_PIPELINE, '--json']);
    assert.equal(run.status, 0, run.stderr);
    own = JSON.parse(run.stdout) as RunRecord;
    const sweep = runner.pipe(['run', TINY_PIPELINE, '--sweep', 'train.epochs=[1,3]', '--json']);
    assert.equal(sweep.status, 0, `${sweep.stdout}\n${sweep.stderr}`);
    variants = (JSON.parse(sweep.stdout) as { runs: RunRecord[] }).runs;
    assert.deepEqual(variants.map((r) => r.sweep?.variant), ['epochs=1', 'epochs=3']);
  });

  it("pipe export <file> exports the model of the file's own run, not the newest variant's", async () => {
    const out = await mkdtemp(join(tmpdir(), 'pipe-export-own-'));
    const exported = runner.pipe(['export', TINY_PIPELINE, '--out', out]);
    assert.equal(exported.status, 0, exported.stderr);
    const meta = JSON.parse(await readFile(join(out, 'model.json'), 'utf8')).userDefinedMetadata.pipe as { source: { run: string; key: string } };
    assert.equal(meta.source.run, own.id);
    assert.equal(meta.source.key, own.stages.train.key);
    assert.notEqual(own.stages.train.key, variants[1].stages.train.key);
  });

  it("each variant's links are under latest/tiny@<variant>/, and latest/tiny/ still links the file's own run", async () => {
    const latest = join(runner.store, 'latest');
    for (const variant of variants) {
      const dir = join(latest, `tiny@${variant.sweep!.variant}`);
      assert.equal(await realpath(join(dir, 'model')), await realpath(join(runner.store, variant.stages.train.outputs.model)), variant.sweep!.variant);
      assert.equal(JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')).id, variant.id);
    }
    assert.equal(await realpath(join(latest, 'tiny', 'model')), await realpath(join(runner.store, own.stages.train.outputs.model)));
    assert.equal(JSON.parse(await readFile(join(latest, 'tiny', 'run.json'), 'utf8')).id, own.id);
  });

  it("pipe cache gc keeps every variant's model and the file's own, and removes what no latest run uses", async () => {
    // From a folder without pipelines/: only the run records say what is in use.
    const elsewhere = await mkdtemp(join(tmpdir(), 'pipe-gc-cwd-'));
    const gc = spawnSync(process.execPath, [PIPE_BIN, 'cache', 'gc', '--all-unused'], {
      cwd: elsewhere,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: runner.store },
    });
    assert.equal(gc.status, 0, gc.stderr);
    assert.match(gc.stdout, /removed 1 entry/);
    for (const run of [own, ...variants]) {
      for (const [id, stage] of Object.entries(run.stages)) assert.ok(entryExists(runner.store, stage.key), `${run.sweep?.variant ?? 'own run'}: ${id} kept`);
    }
  });
});

describe('a pipeline file whose runs all used --set', () => {
  it('stands for none of them: pipe export says so and names the latest run by id', async () => {
    const runner = await pipeWithStore('pipe-set-only-');
    const run = runner.pipe(['run', TINY_PIPELINE, '--until', 'faces', '--set', 'faces.count=300', '--json']);
    assert.equal(run.status, 0, run.stderr);
    const out = await mkdtemp(join(tmpdir(), 'pipe-export-none-'));
    const exported = runner.pipe(['export', TINY_PIPELINE, '--out', out]);
    assert.equal(exported.status, 2, exported.stderr);
    assert.match(exported.stderr, /pipeline 'tiny' \(.*tiny\.yaml\) has no run of the file as it is .*: its runs used --set or --sweep/);
    assert.match(exported.stderr, new RegExp(`hint: name one of those runs by id \\(latest: ${(JSON.parse(run.stdout) as RunRecord).id};`));
  });
});
