// The training step on several replica threads (src/train/step.ts, the step the training loop runs): two
// replicas give the same update as one in the training thread (for a model whose forward pass does not depend on
// the batch), keep the caller's model current, sync batch-norm moving statistics, and do not leak tensors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadTf } from '../../src/tf/backend.js';
import { smoothedTargets } from '../../src/model/loss.js';
import { readWeights } from '../../src/train/gradients.js';
import { createStep } from '../../src/train/step.js';

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

/** n rows of 10x10x1 in 4 classes, and their one-hot targets. */
function batch(n: number, seed: number): { rows: { x: Float32Array; labels: Int32Array; size: number }; targets: Float32Array } {
  const x = new Float32Array(n * 100);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = (i + seed) % 4;
    for (let p = 0; p < 100; p++) x[i * 100 + p] = Math.sin(p * (labels[i] + 1) * 0.3 + seed) + 0.05 * Math.cos(i * 13 + p);
  }
  return { rows: { x, labels, size: n }, targets: smoothedTargets(labels, 4, 0) };
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

test('two replicas produce the same weights as one in the training thread (no batch-dependent layers)', async () => {
  const results: Float32Array[][] = [];
  const losses: number[][] = [];
  for (const replicas of [1, 2]) {
    const model = smallNet(false);
    const step = await createStep(tf, model, tf.train.adam(0.01), replicas);
    assert.equal(step.replicas, replicas);
    const ls: number[] = [];
    for (let k = 0; k < 3; k++) {
      const { rows, targets } = batch(10, k); // 10 rows: uneven 5/5 split is fine; weighting is by rows
      ls.push((await step.run(rows, targets, null, [])).loss);
    }
    results.push(readWeights(model));
    losses.push(ls);
    await step.dispose();
    model.dispose();
  }
  assert.ok(maxRelDiff(results[1], results[0]) <= 1e-4, `weights differ by ${maxRelDiff(results[1], results[0])}`);
  losses[0].forEach((l, i) => assert.ok(Math.abs(l - losses[1][i]) <= 1e-4 * Math.abs(l), `loss ${i}: ${l} vs ${losses[1][i]}`));
});

test('two replicas with batch norm: loss falls, moving statistics sync into the model, no tensor leak', async () => {
  const model = smallNet(true);
  const bn = model.layers[1];
  const movingMeanBefore = (bn.getWeights()[2].dataSync() as Float32Array).slice();
  const step = await createStep(tf, model, tf.train.adam(0.02), 2);
  const { rows, targets } = batch(16, 0);
  const losses: number[] = [];
  const counts: number[] = [];
  for (let k = 0; k < 6; k++) {
    const r = await step.run(rows, targets, null, []);
    assert.ok(r.correct >= 0 && r.correct <= 16);
    losses.push(r.loss);
    counts.push(tf.memory().numTensors);
  }
  await step.dispose();
  assert.ok(losses[5] < losses[0], `loss did not fall: ${losses.join(' ')}`);
  assert.equal(new Set(counts).size, 1, `tensor count changed: ${counts.join(' ')}`);
  const movingMeanAfter = bn.getWeights()[2].dataSync() as Float32Array;
  assert.notDeepEqual(Array.from(movingMeanAfter), Array.from(movingMeanBefore), 'moving mean never reached the model');
  // The caller's model is current: predicting with it works and gives a distribution.
  const p = model.predict(tf.tensor4d(rows.x, [16, 10, 10, 1])) as ReturnType<typeof tf.tensor>;
  assert.ok(Math.abs((await p.sum(-1).data())[0] - 1) < 1e-4);
  model.dispose();
});

test('a batch smaller than the replica count trains on as many replicas as it has rows', async () => {
  const model = smallNet(false);
  const reference = smallNet(false);
  reference.setWeights(model.getWeights());
  const two = await createStep(tf, model, tf.train.sgd(0.1), 2);
  const one = await createStep(tf, reference, tf.train.sgd(0.1), 1);
  const { rows, targets } = batch(1, 0);
  const a = await two.run(rows, targets, null, []);
  const b = await one.run(rows, targets, null, []);
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5, `${a.loss} vs ${b.loss}`);
  assert.equal(a.correct, b.correct);
  const wa = model.getWeights()[0].dataSync();
  const wb = reference.getWeights()[0].dataSync();
  for (let i = 0; i < wa.length; i++) assert.ok(Math.abs(wa[i] - wb[i]) < 1e-5);
  await two.dispose();
  await one.dispose();
  model.dispose();
  reference.dispose();
});

test('the paper CNN trains on wasm without leaking tensors across batches and epochs, well under 3 GB', async () => {
  const { buildPaperCnn } = await import('../../src/model/paper-cnn.js');
  const model = await buildPaperCnn(tf);
  const step = await createStep(tf, model, tf.train.adam(1e-3), 1);
  const n = 8;
  const x = new Float32Array(n * 48 * 48).map((_, i) => (Math.sin(i * 0.37) + 1) / 2);
  const labels = new Int32Array(n).map((_, i) => i % 7);
  const targets = smoothedTargets(labels, 7, 0);
  const counts: number[] = [];
  for (let epoch = 0; epoch < 2; epoch++) {
    for (let b = 0; b < 2; b++) {
      await step.run({ x, labels, size: n }, targets, null, [epoch * 2 + b]);
      counts.push(tf.memory().numTensors);
    }
    // An evaluation pass between epochs, as a training loop would do.
    tf.tidy(() => (model.predict(tf.tensor4d(x, [n, 48, 48, 1])) as ReturnType<typeof tf.tensor>).dataSync());
    counts.push(tf.memory().numTensors);
  }
  await step.dispose();
  // The first step creates Adam's slots; from then on the count must not move.
  assert.equal(new Set(counts.slice(1)).size, 1, `tensor count changed: ${counts.join(' ')}`);
  assert.ok(process.memoryUsage().rss < 3e9, `RSS ${process.memoryUsage().rss}`);
  model.dispose();
});
