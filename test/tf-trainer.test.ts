// The data-parallel trainer: two worker replicas give the same update as one in-process replica
// (for a model whose forward pass does not depend on the batch), keep the caller's model current,
// sync batch-norm moving statistics, and do not leak tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadTf } from '../src/tf/backend.js';
import { createTrainer } from '../src/tf/trainer.js';

const { tf } = await loadTf('wasm');

function smallNet(withBatchNorm: boolean): LayersModel {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: s });
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [10, 10, 1], filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }),
      ...(withBatchNorm ? [tf.layers.batchNormalization()] : []),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 4, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
}

function batch(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const x = new Float32Array(n * 100);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = (i + seed) % 4;
    for (let p = 0; p < 100; p++) x[i * 100 + p] = Math.sin(p * (y[i] + 1) * 0.3 + seed) + 0.05 * Math.cos(i * 13 + p);
  }
  return { x, y };
}

function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((arr, k) => {
    let diff = 0;
    let scale = 1e-12;
    for (let j = 0; j < arr.length; j++) {
      diff = Math.max(diff, Math.abs(arr[j] - b[k][j]));
      scale = Math.max(scale, Math.abs(b[k][j]));
    }
    worst = Math.max(worst, diff / scale);
  });
  return worst;
}

test('two workers produce the same weights as one in-process replica (no batch-dependent layers)', async () => {
  const results: Float32Array[][] = [];
  const losses: number[][] = [];
  for (const workers of [1, 2]) {
    const model = smallNet(false);
    const trainer = await createTrainer({ model, optimizer: tf.train.adam(0.01), workers });
    assert.equal(trainer.workers, workers);
    const ls: number[] = [];
    for (let step = 0; step < 3; step++) {
      const { x, y } = batch(10, step); // 10 rows: uneven 5/5 split is fine; weighting is by rows
      ls.push((await trainer.trainBatch(x, y)).loss);
    }
    results.push(trainer.getWeights());
    losses.push(ls);
    await trainer.dispose();
    model.dispose();
  }
  assert.ok(maxRelDiff(results[1], results[0]) <= 1e-4, `weights differ by ${maxRelDiff(results[1], results[0])}`);
  losses[0].forEach((l, i) => assert.ok(Math.abs(l - losses[1][i]) <= 1e-4 * Math.abs(l), `loss ${i}: ${l} vs ${losses[1][i]}`));
});

test('parallel training with batch norm: loss falls, moving statistics sync into the model, no tensor leak', async () => {
  const model = smallNet(true);
  const bn = model.layers[1];
  const movingMeanBefore = (bn.getWeights()[2].dataSync() as Float32Array).slice();
  const trainer = await createTrainer({ model, optimizer: tf.train.adam(0.02), workers: 2 });
  const { x, y } = batch(16, 0);
  const oneHot = new Float32Array(16 * 4);
  y.forEach((c, i) => (oneHot[i * 4 + c] = 1));
  const losses: number[] = [];
  const counts: number[] = [];
  for (let step = 0; step < 6; step++) {
    const r = await trainer.trainBatch(x, step % 2 ? y : oneHot); // labels and one-hot targets both work
    assert.equal(r.n, 16);
    assert.ok(r.acc >= 0 && r.acc <= 1);
    losses.push(r.loss);
    counts.push(tf.memory().numTensors);
  }
  await trainer.dispose();
  assert.ok(losses[5] < losses[0], `loss did not fall: ${losses.join(' ')}`);
  assert.equal(new Set(counts).size, 1, `tensor count changed: ${counts.join(' ')}`);
  const movingMeanAfter = bn.getWeights()[2].dataSync() as Float32Array;
  assert.notDeepEqual(Array.from(movingMeanAfter), Array.from(movingMeanBefore), 'moving mean never reached the model');
  // The caller's model is current: predicting with it works and gives a distribution.
  const p = model.predict(tf.tensor4d(x, [16, 10, 10, 1])) as ReturnType<typeof tf.tensor>;
  assert.ok(Math.abs((await p.sum(-1).data())[0] - 1) < 1e-4);
  model.dispose();
});

test('a batch smaller than the worker count trains on as many workers as it has rows', async () => {
  const model = smallNet(false);
  const reference = smallNet(false);
  reference.setWeights(model.getWeights());
  const trainer = await createTrainer({ model, optimizer: tf.train.sgd(0.1), workers: 2 });
  const local = await createTrainer({ model: reference, optimizer: tf.train.sgd(0.1), workers: 1 });
  const { x, y } = batch(1, 0);
  const a = await trainer.trainBatch(x, y);
  const b = await local.trainBatch(x, y);
  assert.equal(a.n, 1);
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `${a.loss} vs ${b.loss}`);
  const wa = model.getWeights()[0].dataSync();
  const wb = reference.getWeights()[0].dataSync();
  for (let i = 0; i < wa.length; i++) assert.ok(Math.abs(wa[i] - wb[i]) < 1e-5);
  await trainer.dispose();
  await local.dispose();
  model.dispose();
  reference.dispose();
});

test('the paper CNN trains on wasm without leaking tensors across batches and epochs, well under 3 GB', async () => {
  const { buildPaperCnn } = await import('../src/tf/paper-cnn.js');
  const model = buildPaperCnn(tf);
  const trainer = await createTrainer({ model, optimizer: tf.train.adam(1e-3), workers: 1 });
  const n = 8;
  const x = new Float32Array(n * 48 * 48).map((_, i) => (Math.sin(i * 0.37) + 1) / 2);
  const y = new Int32Array(n).map((_, i) => i % 7);
  const counts: number[] = [];
  for (let epoch = 0; epoch < 2; epoch++) {
    for (let b = 0; b < 2; b++) {
      await trainer.trainBatch(x, y);
      counts.push(tf.memory().numTensors);
    }
    // An evaluation pass between epochs, as a training loop would do.
    tf.tidy(() => (model.predict(tf.tensor4d(x, [n, 48, 48, 1])) as ReturnType<typeof tf.tensor>).dataSync());
    counts.push(tf.memory().numTensors);
  }
  await trainer.dispose();
  // The first step creates Adam's slots; from then on the count must not move.
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor count changed: ${counts.join(' ')}`);
  assert.ok(process.memoryUsage().rss < 3e9, `RSS ${process.memoryUsage().rss}`);
  model.dispose();
});
