// Sweeps through the real CLI: a sweep of four quickstart variants (small: few faces, one or two epochs) builds
// the stages the variants share once, runs the variants two at a time, and ends with the comparison, best first;
// `pipe compare` tells apart two pipeline files that share a `name:`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listRuns } from '../../src/runs/read.js';
import { assertSharedStagesOnce } from '../support/sweep-checks.js';
import { makeToyProject, PIPE_BIN, REPO_ROOT, TOY_PIPELINE } from '../../harness/toy-project.js';

function pipe(args: string[], store: string) {
  return spawnSync(process.execPath, [PIPE_BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: store },
  });
}

const SMALL = ['--set', 'faces.count=300', '--set', 'train.workers=1'];
const SWEEP = ['--sweep', 'train.optimizer.learningRate=[0.002,0.0005]', '--sweep', 'train.epochs=[1,2]'];

describe('sweeps', () => {
  it('builds shared stages once, runs four quickstart variants and compares them best first', async () => {
    const store = await mkdtemp(join(tmpdir(), 'pipe-sweep-'));
    const result = pipe(['run', 'pipelines/quickstart.yaml', ...SMALL, ...SWEEP, '--jobs', '2', '--sort', 'test.accuracy'], store);
    assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
    const sweepId = /^sweep (\S+): 4 variants/m.exec(result.stdout)?.[1];
    assert.ok(sweepId, result.stdout);

    const records = (await listRuns(store)).filter((r) => r.sweep?.id === sweepId);
    const variants = records.filter((r) => !r.sweep!.shared);
    assert.deepEqual(variants.map((r) => r.sweep!.variant).sort(), [
      'learningRate=0.0005,epochs=1',
      'learningRate=0.0005,epochs=2',
      'learningRate=0.002,epochs=1',
      'learningRate=0.002,epochs=2',
    ]);
    assertSharedStagesOnce(records);

    // The comparison: the two swept params, the variants' metrics, best test accuracy first.
    const table = result.stdout.slice(result.stdout.indexOf('quickstart: sweep of 4 variants, best first on test.accuracy'));
    assert.match(table, /^variant\s+learningRate=/m);
    assert.match(table, /^train\.epochs\s+[12]\s+[12]\s+[12]\s+[12]$/m);
    assert.match(table, /^train\.optimizer\.learningRate\s+/m);
    const accuracies = [...(/^test accuracy\s+(.*)$/m.exec(table)?.[1] ?? '').matchAll(/([\d.]+)%/g)].map((m) => Number(m[1]));
    assert.equal(accuracies.length, 4, table);
    assert.deepEqual(accuracies, [...accuracies].sort((a, b) => b - a));

    // The pipeline file stands for the variants of its latest sweep.
    const compared = pipe(['compare', 'pipelines/quickstart.yaml', '--json', '--sort', 'test.loss'], store);
    assert.equal(compared.status, 0, compared.stderr);
    const comparison = JSON.parse(compared.stdout) as { runs: { id: string; variant?: string }[]; metrics: { split: string; metric: string; values: number[] }[] };
    assert.deepEqual(comparison.runs.map((r) => r.id).sort(), variants.map((r) => r.id).sort());
    const losses = comparison.metrics.find((m) => m.split === 'test' && m.metric === 'loss')!.values;
    assert.deepEqual(losses, [...losses].sort((a, b) => a - b));
  });
});

describe('pipe compare by file', () => {
  it('compares the runs of two files that share a name, not one run with itself', async () => {
    const toy = await makeToyProject();
    await writeFile(join(toy.dir, 'other.yaml'), TOY_PIPELINE.replace('with: { factor: 2 }', 'with: { factor: 3 }'));
    assert.equal(toy.pipe(['run', 'pipeline.yaml']).status, 0);
    const other = toy.pipe(['run', 'other.yaml', '--json']);
    assert.equal(other.status, 0, other.stderr);
    const result = toy.pipe(['compare', 'pipeline.yaml', 'other.yaml', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const comparison = JSON.parse(result.stdout) as { runs: { id: string; pipeline: string }[]; params: { path: string; values: unknown[] }[] };
    assert.deepEqual(comparison.runs.map((r) => r.pipeline), ['toy', 'toy']);
    assert.notEqual(comparison.runs[0].id, comparison.runs[1].id);
    assert.equal(comparison.runs[1].id, JSON.parse(other.stdout).id);
    assert.deepEqual(comparison.params.find((p) => p.path === 'scale.factor')?.values, [2, 3]);
    // Run from another folder, the same files still name the same runs.
    const elsewhere = await mkdtemp(join(tmpdir(), 'pipe-elsewhere-'));
    const fromElsewhere = spawnSync(process.execPath, [PIPE_BIN, 'compare', join(toy.dir, 'pipeline.yaml'), join(toy.dir, 'other.yaml'), '--json', '--cache', join(toy.dir, 'artifacts')], {
      cwd: elsewhere,
      encoding: 'utf8',
      env: { ...process.env, PIPE_ARTIFACTS: '' },
    });
    assert.equal(fromElsewhere.status, 0, fromElsewhere.stderr);
    assert.deepEqual(JSON.parse(fromElsewhere.stdout).runs.map((r: { id: string }) => r.id), comparison.runs.map((r) => r.id));
    assert.ok((await readFile(join(toy.dir, 'other.yaml'), 'utf8')).includes('factor: 3'));
  });
});

describe('a sweep: block', () => {
  it('runs its variants, reports them as JSON, and rejects a bad value before anything runs', async () => {
    const toy = await makeToyProject(`${TOY_PIPELINE}sweep:\n  scale.factor: [2, 3]\n`);
    const result = toy.pipe(['run', 'pipeline.yaml', '--json']);
    assert.equal(result.status, 0, result.stderr);
    const out = JSON.parse(result.stdout) as {
      sweep: string;
      shared: { stages: Record<string, { status: string }> }[];
      runs: { sweep: { id: string; variant: string; sets: string[] }; stages: Record<string, { status: string }> }[];
      comparison: { params: { path: string; values: unknown[] }[] };
    };
    assert.deepEqual(out.runs.map((r) => [r.sweep.variant, r.sweep.sets, r.sweep.id]), [
      ['factor=2', ['scale.factor=2'], out.sweep],
      ['factor=3', ['scale.factor=3'], out.sweep],
    ]);
    assert.deepEqual(out.shared.map((r) => Object.fromEntries(Object.entries(r.stages).map(([id, s]) => [id, s.status]))), [{ source: 'ran' }]);
    assert.ok(out.runs.every((r) => r.stages.source.status === 'cached' && r.stages.scale.status === 'ran'));
    assert.deepEqual(out.comparison.params, [{ path: 'scale.factor', values: [2, 3] }]);
    assert.match(result.stderr, /^\[factor=3\] /m);

    // --fail-if judges every variant: each fails its gate, so the sweep does.
    const gated = toy.pipe(['run', 'pipeline.yaml', '--fail-if', 'sum.sum > 1']);
    assert.equal(gated.status, 3, gated.stderr);
    assert.match(gated.stderr, /^\[factor=2\] gate failed: sum\.sum > 1 \(--fail-if\): the value is 30$/m);
    assert.match(gated.stderr, /^\[factor=3\] gate failed: sum\.sum > 1 \(--fail-if\): the value is 45$/m);

    const again = toy.pipe(['run', 'pipeline.yaml', '--sweep', 'scale.factor=[2, lots]']);
    assert.equal(again.status, 2, again.stdout);
    assert.match(again.stderr, /in --set scale\.factor="lots": .*number/);
    assert.doesNotMatch(again.stdout, /^sweep /m);
  });
});
