// The same seeded training on the reference `cpu` backend and on `wasm` (with its native convolutions,
// oneDNN where installed, as in CI, else OpenBLAS; and its SIMD and batch-norm kernels): a small CNN on a few
// hundred synthetic faces follows the same loss curve (every epoch within 1%; three epochs, as the reference
// backend is slow) and ends at the same test accuracy (within 2 points).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import synthesize from '../../stages/synthetic-faces.js';
import normalise from '../../stages/normalise.js';
import buildModel from '../../stages/build-model.js';
import train from '../../stages/train.js';
import evaluate from '../../stages/evaluate.js';
import { runStage } from '../../harness/stage-harness.js';
import { nativeKernels } from '../../src/tf/native/kernels.js';

// Channel counts that are multiples of 4, so wasm runs its SIMD kernels, and stride-1 convolutions, which
// run on oneDNN or OpenBLAS where installed.
const LAYERS = [
  { conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } },
  { batchNormalization: { momentum: 0.8 } },
  { maxPooling2d: { poolSize: 2 } },
  { conv2d: { filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' } },
  { maxPooling2d: { poolSize: 2 } },
  { flatten: {} },
  { dense: { units: 7, activation: 'softmax' } },
];

test('seeded training follows the same loss curve on cpu and wasm and ends at the same accuracy', async (t) => {
  t.diagnostic(nativeKernels().description);
  // CI installs oneDNN (.ci/run): there the wasm run must train on it.
  if (process.env.CI) assert.equal(nativeKernels().name, 'onednn');
  const faces = await runStage(synthesize, { params: { count: 480, size: 24, imbalance: 'balanced', splits: { train: 0.6, test: 0.4 } }, seed: 5 });
  const data = (await runStage(normalise, { params: { mode: 'scale' }, inputs: { data: faces.outputs.data } })).outputs.data;
  const results: Record<string, { losses: number[]; accuracy: number }> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    const started = performance.now();
    const model = (await runStage(buildModel, { params: { inputShape: [24, 24, 1], layers: LAYERS }, backend, seed: 3 })).outputs.model;
    const params = { epochs: 3, batchSize: 32, optimizer: { name: 'adam', learningRate: 0.01 }, workers: 1 };
    const trained = await runStage(train, { params, inputs: { model, data }, backend, seed: 9 });
    const history = JSON.parse(await readFile(trained.outputs.history, 'utf8')) as { epochs: Array<{ loss: number }> };
    const evaluated = await runStage(evaluate, { inputs: { model: trained.outputs.model, data }, backend });
    const metrics = JSON.parse(await readFile(evaluated.outputs.metrics, 'utf8'));
    results[backend] = { losses: history.epochs.map((e) => e.loss), accuracy: metrics.splits.test.accuracy };
    t.diagnostic(`${backend}: ${((performance.now() - started) / 1000).toFixed(1)} s, losses ${results[backend].losses.map((l) => l.toFixed(4))}, test accuracy ${metrics.splits.test.accuracy}`);
  }
  const { cpu, wasm } = results;
  assert.equal(wasm.losses.length, 3);
  assert.ok(cpu.losses[2] < cpu.losses[0] * 0.92, `the network learns: losses ${cpu.losses}`);
  cpu.losses.forEach((ref, i) => {
    const rel = Math.abs(wasm.losses[i] - ref) / ref;
    assert.ok(rel <= 0.01, `epoch ${i + 1}: loss ${wasm.losses[i]} on wasm vs ${ref} on cpu (${(rel * 100).toFixed(2)}%)`);
  });
  assert.ok(cpu.accuracy > 0.22, `accuracy ${cpu.accuracy} should be clearly above chance`);
  assert.ok(Math.abs(wasm.accuracy - cpu.accuracy) <= 0.02, `test accuracy ${wasm.accuracy} on wasm vs ${cpu.accuracy} on cpu`);
});
