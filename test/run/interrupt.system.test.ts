// Ctrl-C during a training epoch stops the run at the next batch, not at the end of the epoch: a real `pipe run`
// child process with a long first epoch (many small batches) gets SIGINT at its first batch progress line. The
// validation and evaluation passes stop as soon, for an abort that comes from the event loop as Ctrl-C's does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import buildModel from '../../stages/build-model.js';
import { rowsOfSplit } from '../../src/data/image-dataset.js';
import { transformOf } from '../../src/data/normalisation.js';
import { PipeError } from '../../src/errors.js';
import { BatchBuilder } from '../../src/model/batches.js';
import { inferRows } from '../../src/model/inference.js';
import { loadModel } from '../../src/model/model-io.js';
import { train as trainLoop } from '../../src/train/loop.js';
import type { RunRecord } from '../../src/runs/record.js';
import { loadTf } from '../../src/tf/backend.js';
import { startPipe } from '../../harness/pipe-process.js';
import { TINY_LAYERS, quadrantDataset, quadrantTrainContext } from '../support/quadrant-dataset.js';
import { runStage } from '../../harness/stage-harness.js';
import { makeToyProject } from '../../harness/toy-project.js';

// About a thousand batches of two images: many seconds of one epoch on the cpu backend.
const LONG_EPOCH = `name: long-epoch
seed: 2
backend: cpu
stages:
  faces:
    uses: synthetic-faces
    with: { count: 1200, size: 24, imbalance: balanced }
  build:
    uses: build-model
    with:
      inputShape: [24, 24, 1]
      layers:
        - conv2d: { filters: 8, kernelSize: 3, activation: relu }
        - flatten: {}
        - dense: { units: 7, activation: softmax }
  train:
    uses: train
    inputs: { model: build, data: faces }
    with: { epochs: 2, batchSize: 2, workers: 1 }
`;

test('SIGINT in the first epoch of training stops the run before that epoch ends, exiting 130 as interrupted', async () => {
  const project = await makeToyProject(LONG_EPOCH);
  const run = startPipe(project.dir, ['run', 'pipeline.yaml']);
  await run.waitFor(/train: epoch 1\/2 · batch \d+\/\d+/);
  const { code } = await run.stop('SIGINT');
  assert.equal(code, 130, run.output);
  assert.match(run.output, /SIGINT: stopping at the next safe point/);
  assert.match(run.output, /✖ train \(train\) · interrupted/);
  assert.doesNotMatch(run.output, /train: epoch 1\/2 · (loss|validating)/, 'the epoch ran to its end before the signal was seen');

  const runs = project.pipe(['runs', '--json']);
  const last = (JSON.parse(runs.stdout) as RunRecord[])[0];
  assert.equal(last.status, 'interrupted');
  assert.equal(last.stages.train.status, 'interrupted');
  // No epoch finished, so no checkpoint was written (nor half of one).
  const scratch = join(project.dir, 'artifacts', 'scratch', last.stages.train.key);
  assert.deepEqual(await readdir(scratch).catch(() => []), []);
});

/** A quadrant dataset with a long validation split (500 rows per class) and the tiny CNN, on cpu. */
async function longValidation() {
  const { tf } = await loadTf('cpu');
  const built = await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers: TINY_LAYERS }, backend: 'cpu', seed: 3 });
  const model = await loadModel(tf, built.outputs.model);
  const dataset = quadrantDataset({ perClass: { train: 8, validation: 500 } });
  return { tf, model, dataset };
}

test('an abort during the validation pass of an epoch stops training within a batch, keeping no checkpoint', async () => {
  const { tf, model, dataset } = await longValidation();
  const abort = new AbortController();
  const context = await quadrantTrainContext(tf, model, dataset, {
    fingerprint: 'interrupt-validation',
    signal: abort.signal,
    // As Ctrl-C's handler: the abort runs only when the event loop gets a turn.
    progress: { update: (message) => void (message === 'epoch 1/2 · validating' && setImmediate(() => abort.abort())) },
  });
  const options = { optimizer: { name: 'adam' as const, learningRate: 0.01 }, schedule: { type: 'none' as const }, labelSmoothing: 0, batchSize: 2, epochs: 2, classWeights: null, replicas: 1 };
  await assert.rejects(
    trainLoop(context, options),
    (err: unknown) => err instanceof PipeError && /^training interrupted at epoch 1, during validation$/.test(err.message),
  );
  assert.deepEqual(await readdir(context.scratchDir), []);
  model.dispose();
});

test("an abort during evaluate's inference loop stops it within a batch", async () => {
  const { tf, model, dataset } = await longValidation();
  const rows = rowsOfSplit(dataset, 'validation');
  const builder = new BatchBuilder(dataset, transformOf(dataset.metadata), 1);
  const abort = new AbortController();
  let batches = 0;
  await assert.rejects(
    inferRows(tf, model, builder, rows, dataset.shape, dataset.classes.length, {
      signal: abort.signal,
      onBatch: (done) => {
        batches = done;
        if (done === 1) setImmediate(() => abort.abort());
      },
    }),
    (err: unknown) => abort.signal.aborted && err === abort.signal.reason,
  );
  assert.ok(batches < rows.length, `all ${rows.length} batches ran before the abort was seen`);
  model.dispose();
});
