// The store's parts and the decisions made once: one stage order for `dag` and `run`, staleness reasons from
// the key parts stored with each entry, cache keys that cover the kernels, reports without run facts.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { kernelsOf } from '../../src/tf/backend.js';
import type { RunRecord } from '../../src/runs/record.js';
import { makeToyProject, TOY_PIPELINE, type ToyProject } from '../../harness/toy-project.js';

function runJson(project: ToyProject, args: string[] = [], env: Record<string, string> = {}): RunRecord {
  const result = project.pipe(['run', 'pipeline.yaml', '--json', ...args], env);
  assert.equal(result.status, 0, `pipe run failed:\n${result.stderr}\n${result.stdout}`);
  return JSON.parse(result.stdout) as RunRecord;
}

describe('store shape', () => {
  it('pipe dag and pipe run list the stages in the same order', async () => {
    // File order puts the reader first and an independent stage between: the two old orders differed here.
    const project = await makeToyProject(`name: order
stages:
  report:
    uses: ./stages/report.mjs
    inputs: { sum: sum }
  lone:
    uses: ./stages/source.mjs
  sum:
    uses: ./stages/sum.mjs
    inputs: { numbers: source }
  source:
    uses: ./stages/source.mjs
`);
    const dag = project.pipe(['dag', 'pipeline.yaml']);
    assert.equal(dag.status, 0, dag.stderr);
    const dagOrder = dag.stdout.trim().split('\n').slice(1).map((line) => line.trim().split(' ')[0]);
    const runOrder = Object.keys(runJson(project).stages);
    assert.deepEqual(dagOrder, ['lone', 'source', 'sum', 'report']);
    assert.deepEqual(runOrder, dagOrder);
  });

  it('pipe status explains from the key parts stored in the cache, also after the pipeline is renamed', async () => {
    const project = await makeToyProject();
    runJson(project);
    await writeFile(project.pipeline, TOY_PIPELINE.replace('name: toy', 'name: toy-renamed'));
    const status = project.pipe(['status', 'pipeline.yaml', '--set', 'scale.factor=10']);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /stale\s+scale.*params changed: scale\.factor 2 → 10/);
    assert.match(status.stdout, /stale\s+sum.*input changed: scale/);
    assert.doesNotMatch(status.stdout, /never run/);
  });

  it('the kernels a model stage runs on (oneDNN, OpenBLAS or XNNPACK: PIPE_ONEDNN, PIPE_BLAS) are part of its cache key', async () => {
    const project = await makeToyProject(`name: kernels
backend: wasm
stages:
  model:
    uses: ./stages/model.mjs
`);
    await writeFile(
      join(project.dir, 'stages', 'model.mjs'),
      `export default { name: 'toy-model', version: '1', description: 'declares tensorflow', params: { type: 'object' }, inputs: {},
        outputs: { out: { file: 'out.txt', description: 'x' } }, runtime: ['tensorflow'],
        async run(ctx) { await (await import('node:fs/promises')).writeFile(ctx.output('out'), ctx.backend); } };\n`,
    );
    const off = runJson(project, [], { PIPE_ONEDNN: 'off', PIPE_BLAS: 'off' }).stages.model;
    assert.equal((off.keyParts?.runtime as Record<string, string>).kernels, 'xnnpack');
    const here = (await kernelsOf('wasm')).name; // what this machine loads by default
    const auto = runJson(project).stages.model;
    assert.equal((auto.keyParts?.runtime as Record<string, string>).kernels, here);
    assert.equal(auto.key === off.key, here === 'xnnpack', 'different kernels, different keys');
    assert.equal(auto.status, here === 'xnnpack' ? 'cached' : 'ran');
    if (here === 'onednn') {
      // Without oneDNN, OpenBLAS (where it loads) runs them: another key again.
      const blas = runJson(project, [], { PIPE_ONEDNN: 'off' }).stages.model;
      const blasKernels = (blas.keyParts?.runtime as Record<string, string>).kernels;
      assert.notEqual(blasKernels, 'onednn');
      assert.notEqual(blas.key, auto.key);
    }
  });
});
