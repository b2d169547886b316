// Loading a backend once per process: callers that arrive while the load is in progress share it, in a direct
// call and in a pipeline whose two model stages start at the same moment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTf } from '../../src/tf/backend.js';
import type { RunRecord } from '../../src/runs/record.js';
import { makeToyProject } from '../../harness/toy-project.js';

test('two concurrent loads of the wasm backend share one load and both succeed', async () => {
  const [first, second] = await Promise.all([loadTf('wasm'), loadTf('wasm')]);
  assert.equal(first, second, 'the second caller started a load of its own');
  assert.equal(first.tf.getBackend(), 'wasm');
  assert.equal(await loadTf('wasm'), first);
});

test('a pipeline with two model stages that start at the same moment builds both on wasm', async () => {
  const layers = '[{ flatten: {} }, { dense: { units: 3, activation: softmax } }]';
  const project = await makeToyProject(`name: two-models
seed: 3
backend: wasm
stages:
  small:
    uses: build-model
    with: { inputShape: [8, 8, 1], layers: ${layers} }
  wide:
    uses: build-model
    with: { inputShape: [16, 16, 1], layers: ${layers} }
`);
  const run = project.pipe(['run', project.pipeline, '--json']);
  assert.equal(run.status, 0, run.stderr);
  const record = JSON.parse(run.stdout) as RunRecord;
  assert.deepEqual(
    Object.fromEntries(Object.entries(record.stages).map(([id, s]) => [id, s.status])),
    { small: 'ran', wide: 'ran' },
  );
});
