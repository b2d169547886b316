// The train stage on real tfjs (cpu backend) with a tiny CNN and a synthetic 12×12 dataset it can learn:
// it learns, is deterministic for a seed, honours class weights, names the batch where the loss diverges,
// skips a missing validation split, and frees every tensor it makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import buildModel from '../../stages/build-model.js';
import train from '../../stages/train.js';
import evaluate from '../../stages/evaluate.js';
import { runStage } from '../../harness/stage-harness.js';
import { TINY_LAYERS, writeQuadrantDataset, quadrantDataset, quadrantTrainContext } from '../support/quadrant-dataset.js';
import { PipeError } from '../../src/errors.js';
import { loadTf } from '../../src/tf/backend.js';
import { loadModel } from '../../src/model/model-io.js';
import { train as trainLoop } from '../../src/train/loop.js';

const BACKEND = 'cpu';
const small = { train: 24, validation: 8, test: 8 };
const fast = { epochs: 4, batchSize: 16, optimizer: { name: 'adam', learningRate: 0.02 } };

async function tinyModel(seed = 3): Promise<string> {
  const r = await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers: TINY_LAYERS }, backend: BACKEND, seed });
  return r.outputs.model;
}

async function history(path: string) {
  return JSON.parse(await readFile(path, 'utf8')) as {
    epochs: Array<Record<string, number>>;
    classWeights: number[] | null;
    validationRows: number;
  };
}

const withoutTimes = (epochs: Array<Record<string, number>>) => epochs.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);

test('learns the quadrant task, and the same seed gives the same history and weights', async () => {
  const model = await tinyModel();
  const data = await writeQuadrantDataset({ perClass: small });
  const params = { ...fast, augment: { flipHorizontal: false, shift: 0.05 } };
  const a = await runStage(train, { params, inputs: { model, data }, backend: BACKEND, seed: 11 });
  const b = await runStage(train, { params, inputs: { model, data }, backend: BACKEND, seed: 11 });
  const ha = await history(a.outputs.history);
  const hb = await history(b.outputs.history);
  assert.equal(ha.epochs.length, 4);
  assert.deepEqual(withoutTimes(ha.epochs), withoutTimes(hb.epochs));
  assert.ok((await readFile(join(a.outputs.model, 'weights.bin'))).equals(await readFile(join(b.outputs.model, 'weights.bin'))));
  const last = ha.epochs[3];
  assert.ok(last.val_accuracy >= 0.9, `val_accuracy ${last.val_accuracy}`);
  assert.ok(last.loss < ha.epochs[0].loss);
  assert.ok(a.progress.some((m) => /^epoch 4\/4 · batch 6\/6 · loss \d\.\d{3} · acc \d\.\d{3} · \d+ img\/s · ETA /.test(m)), a.progress.join('\n'));
  assert.equal((a.summary as { backend: string }).backend, BACKEND);

  // Another seed shuffles, augments and drops out differently.
  const c = await runStage(train, { params, inputs: { model, data }, backend: BACKEND, seed: 12 });
  assert.notDeepEqual(withoutTimes((await history(c.outputs.history)).epochs), withoutTimes(ha.epochs));

  // The trained model evaluates well on the held-out test split.
  const e = await runStage(evaluate, { inputs: { model: a.outputs.model, data }, backend: BACKEND });
  const metrics = JSON.parse(await readFile(e.outputs.metrics, 'utf8'));
  assert.equal(metrics.splits.test.count, 32);
  assert.ok(metrics.splits.test.accuracy >= 0.9, `test accuracy ${metrics.splits.test.accuracy}`);
});

test('class weights: balanced weights come from train counts, and a zero weight stops a class being learnt', async () => {
  const model = await tinyModel();
  const data = await writeQuadrantDataset({ perClass: small, trainCounts: [12, 24, 24, 36] });
  const balanced = await runStage(train, { params: { ...fast, epochs: 1, classWeights: 'balanced' }, inputs: { model, data }, backend: BACKEND });
  // 96 rows / (4 classes × count)
  assert.deepEqual((await history(balanced.outputs.history)).classWeights, [2, 1, 1, 96 / 144]);

  const ignoreFirst = await runStage(train, {
    params: { ...fast, classWeights: { 'top-left': 0 } },
    inputs: { model, data },
    backend: BACKEND,
  });
  const e = await runStage(evaluate, { params: { splits: ['validation'] }, inputs: { model: ignoreFirst.outputs.model, data }, backend: BACKEND });
  const perClass = JSON.parse(await readFile(e.outputs.metrics, 'utf8')).splits.validation.perClass;
  assert.equal(perClass[0].recall, 0, JSON.stringify(perClass));
  assert.ok(perClass[3].recall >= 0.75, JSON.stringify(perClass));
});

test('a loss that becomes NaN stops training with the epoch and batch and a learning-rate hint', async () => {
  const model = await tinyModel();
  // A normalisation whose scale overflows float32 for bright pixels: the first batch's inputs hold Infinity.
  const metadata = { 'pipe.normalise': JSON.stringify({ mode: 'scale', scale: 1e37, mean: [0], std: [1] }) };
  const data = await writeQuadrantDataset({ perClass: small, metadata });
  await assert.rejects(
    runStage(train, { params: fast, inputs: { model, data }, backend: BACKEND }),
    (err: unknown) =>
      err instanceof PipeError && /loss became NaN at epoch 1, batch 1 of 6/.test(err.message) && /learningRate/.test(err.hint ?? ''),
  );
});

test('without a validation split, training runs without val metrics; a missing train split or a shape mismatch is an error', async () => {
  const model = await tinyModel();
  const data = await writeQuadrantDataset({ perClass: { train: 16 } });
  const r = await runStage(train, { params: { ...fast, epochs: 1 }, inputs: { model, data }, backend: BACKEND });
  const h = await history(r.outputs.history);
  assert.equal(h.validationRows, 0);
  assert.equal(h.epochs[0].val_loss, undefined);
  await assert.rejects(
    runStage(train, { params: { ...fast, trainSplit: 'training' }, inputs: { model, data }, backend: BACKEND }),
    (err: unknown) => err instanceof PipeError && /no rows in split 'training'/.test(err.message) && /train/.test(err.hint ?? ''),
  );
  const wrongShape = await writeQuadrantDataset({ size: 10, perClass: { train: 4 } });
  await assert.rejects(
    runStage(train, { params: fast, inputs: { model, data: wrongShape }, backend: BACKEND }),
    (err: unknown) => err instanceof PipeError && /\[12, 12, 1\] but the dataset's are \[10, 10, 1\]/.test(err.message),
  );
});

test('no tensor outlives a batch or an epoch, and an abort stops at a batch boundary keeping the checkpoint', async () => {
  const { tf } = await loadTf(BACKEND);
  const modelDir = await tinyModel();
  const ds = quadrantDataset({ perClass: small });
  const before = tf.memory().numTensors;
  const model = await loadModel(tf, modelDir);
  const tensorsAtEpochEnd: number[] = [];
  const abort = new AbortController();
  const context = await quadrantTrainContext(tf, model, ds, {
    fingerprint: 'leak-test',
    signal: abort.signal,
    progress: {
      update(message: string) {
        if (/batch 6\/6/.test(message)) tensorsAtEpochEnd.push(tf.memory().numTensors);
        if (message === 'epoch 4/5 · validating') abort.abort();
      },
    },
  });
  const scratchDir = context.scratchDir;
  const options = { optimizer: { name: 'adam' as const, learningRate: 0.01 }, schedule: { type: 'none' as const }, labelSmoothing: 0.1, batchSize: 16, epochs: 5, classWeights: [1, 2, 1, 1], augment: { rotation: 10 }, replicas: 1 };
  await assert.rejects(
    trainLoop(context, { ...options, optimizer: { ...options.optimizer } }),
    (err: unknown) => err instanceof PipeError && /interrupted at epoch 4, before validation; the checkpoint after epoch 3 is kept/.test(err.message),
  );
  // Epoch 1 creates the optimizer's slot variables; from then on the count must not grow.
  assert.equal(tensorsAtEpochEnd.length, 4);
  assert.deepEqual(tensorsAtEpochEnd.slice(1), [tensorsAtEpochEnd[0], tensorsAtEpochEnd[0], tensorsAtEpochEnd[0]]);
  const pointer = JSON.parse(await readFile(join(scratchDir, 'checkpoint.json'), 'utf8'));
  assert.equal(pointer.epoch, 3);
  // The optimizer is freed when training stops; only the model's own variables remain.
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
});
