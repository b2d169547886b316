// oneDNN's bf16 kernels (setOneDnnPrecision('bf16')): each convolution direction and the matrix products agree
// with the fp32 path on the paper CNN's shapes within what bf16's 8-bit mantissa allows, really run on bf16
// primitives, and leave the fp32 path bit for bit as it was; a short training in bf16 tracks the fp32 one; the
// train stage's precision param resolves, reports and keys as documented. Skipped where the CPU or the library
// lacks native bf16, except in CI on a CPU whose /proc/cpuinfo lists avx512_bf16: there it must run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { loadTf, resolvePrecision } from '../../src/tf/backend.js';
import { loadOneDnn, oneDnnPrecision, setOneDnnPrecision } from '../../src/tf/native/onednn.js';
import { runtimeFactsFor } from '../../src/plan/runtime-facts.js';
import synthesize from '../../stages/synthetic-faces.js';
import normalise from '../../stages/normalise.js';
import buildModel from '../../stages/build-model.js';
import train from '../../stages/train.js';
import { runStage } from '../../harness/stage-harness.js';
import { bf16, bf16Required, bf16Skip, cpuHasBf16 } from '../support/bf16.js';
import { kernelChecks, randomData, relError, type KernelInputs } from '../support/kernel-values.js';
import type { StageInstance } from '../../src/plan/plan.js';

const skip = bf16Skip;

const { tf } = await loadTf('wasm');
const { runOn } = kernelChecks(tf);

/**
 * Tolerance of relError (max |bf16 − fp32| over max |fp32|). Rounding to bf16 (8 significant bits) is off by at
 * most 2^-9 relatively, so each product of two rounded inputs by at most ~2^-8; accumulated in fp32, a K-term
 * dot product is off by at most 2^-8 · Σ|aᵢbᵢ|. On these random inputs in [-1, 1) the errors of the terms have
 * random signs and grow as √K, like the sums themselves, so the error relative to the output's scale stays a
 * small multiple of 2^-8 (measured: 0.5–0.65 × 2^-8): 4 × 2^-8 holds with room, and fp32's 1e-4 would fail.
 */
const BF16_TOLERANCE = 4 * 2 ** -8;

function inBf16<T>(f: () => Promise<T>): Promise<T> {
  const restore = setOneDnnPrecision('bf16');
  return f().finally(restore);
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
let seed = 11;
const random = (shape: number[]) => ({ shape, data: randomData(count(shape), seed++) });

/** The kernel in fp32 and in bf16 on the same inputs: bf16 within the tolerance, not identical, and fp32 repeatable. */
async function assertBf16Close(kernel: string, inputs: KernelInputs, attrs: Record<string, unknown>, label: string) {
  const fp32 = await runOn('wasm', kernel, inputs, attrs);
  const b16 = await inBf16(() => runOn('wasm', kernel, inputs, attrs));
  const again = await runOn('wasm', kernel, inputs, attrs);
  assert.deepEqual(b16.shape, fp32.shape, `${label}: shape`);
  const err = relError(b16.data, fp32.data);
  assert.ok(err <= BF16_TOLERANCE, `${label}: relative error ${err} (${(err / 2 ** -8).toFixed(2)} × 2^-8)`);
  assert.ok(err > 1e-6, `${label}: bf16 gave the fp32 result (relative error ${err}): it did not run in bf16`);
  assert.deepEqual(again.data, fp32.data, `${label}: fp32 after bf16 is bit for bit what it was`);
  return err;
}

/** The paper CNN's convolutions (3×3, stride 1), on a batch of 4: input [h, w, cin], cout, padding. */
const PAPER_CONVS = [
  { h: 48, cin: 1, cout: 32, pad: 'valid' },
  { h: 46, cin: 32, cout: 64, pad: 'same' },
  { h: 23, cin: 64, cout: 64, pad: 'valid' },
  { h: 21, cin: 64, cout: 128, pad: 'same' },
  { h: 10, cin: 128, cout: 128, pad: 'valid' },
] as const;

test('bf16 is offered exactly where oneDNN reports avx512_core_bf16 or above', { skip: 'onednn' in loadOneDnn() ? false : 'oneDNN is not available' }, (t) => {
  const found = loadOneDnn();
  assert.ok('onednn' in found);
  t.diagnostic(`${found.onednn.name}; /proc/cpuinfo avx512_bf16: ${cpuHasBf16}`);
  assert.equal(found.onednn.bf16, ['avx512_core_bf16', 'avx512_core_amx'].includes(found.onednn.isa));
  assert.equal(bf16.available, found.onednn.bf16);
  if (bf16Required) assert.ok(bf16.available, `CI on a CPU with avx512_bf16 must run bf16: ${bf16.available ? '' : bf16.reason}`);
  if (!bf16.available) assert.throws(() => setOneDnnPrecision('bf16'), /bf16 is not available/);
  assert.equal(oneDnnPrecision(), 'fp32');
});

test('bf16 convolutions (forward, with bias and relu, both gradients) match fp32 on the paper CNN shapes', { skip }, async (t) => {
  const onednn = (loadOneDnn() as { onednn: import('../../src/tf/native/onednn.js').OneDnn }).onednn;
  const errors: number[] = [];
  for (const c of PAPER_CONVS) {
    const n = 4;
    const ho = c.pad === 'same' ? c.h : c.h - 2;
    const xShape = [n, c.h, c.h, c.cin];
    const filterShape = [3, 3, c.cin, c.cout];
    const x = random(xShape);
    const filter = random(filterShape);
    const dy = random([n, ho, ho, c.cout]);
    const bias = random([c.cout]);
    const attrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
    const label = `${xShape.join('×')} → ${c.cout}`;
    errors.push(await assertBf16Close('Conv2D', { x, filter }, attrs, `Conv2D ${label}`));
    errors.push(await assertBf16Close('FusedConv2D', { x, filter, bias }, { ...attrs, activation: 'relu' }, `FusedConv2D bias relu ${label}`));
    errors.push(await assertBf16Close('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: xShape }, `input gradient ${label}`));
    errors.push(await assertBf16Close('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }, `filter gradient ${label}`));
  }
  t.diagnostic(`relative errors / 2^-8: ${errors.map((e) => (e / 2 ** -8).toFixed(2)).join(' ')}`);
  const made = [...onednn.implementations()].filter(([key]) => / bf16( |$)/.test(key));
  assert.ok(made.length >= PAPER_CONVS.length * 4, `bf16 primitives made: ${made.length}`);
  for (const [key, impl] of made) assert.match(impl, /bf16/, `${key} runs ${impl}`);
});

test('bf16 matrix products match fp32: dense layers with bias and relu, and the transposes of their gradients', { skip }, async () => {
  for (const [a, b, transposeA, transposeB] of [
    [[1, 4, 2048], [1, 2048, 200], false, false],
    [[1, 4, 200], [1, 2048, 200], false, true],
    [[1, 4, 2048], [1, 4, 200], true, false],
    [[1, 200, 4], [1, 7, 200], true, true],
    [[3, 5, 64], [3, 64, 7], false, false],
  ] as Array<[number[], number[], boolean, boolean]>) {
    const label = `${a.join('×')}${transposeA ? 'ᵀ' : ''} · ${b.join('×')}${transposeB ? 'ᵀ' : ''}`;
    await assertBf16Close('BatchMatMul', { a: random(a), b: random(b) }, { transposeA, transposeB }, `BatchMatMul ${label}`);
  }
  const x = random([4, 2048]);
  const w = random([2048, 200]);
  const bias = random([200]);
  await assertBf16Close('_FusedMatMul', { a: x, b: w, bias }, { transposeA: false, transposeB: false, activation: 'relu' }, '_FusedMatMul bias relu');
});

// Channel counts and strides that run on oneDNN, as in test/train/backends.system.test.ts.
const LAYERS = [
  { conv2d: { filters: 8, kernelSize: 3, activation: 'relu' } },
  { batchNormalization: { momentum: 0.8 } },
  { maxPooling2d: { poolSize: 2 } },
  { conv2d: { filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' } },
  { maxPooling2d: { poolSize: 2 } },
  { flatten: {} },
  { dense: { units: 32, activation: 'relu' } },
  { dense: { units: 7, activation: 'softmax' } },
];

test('seeded training in bf16 follows the fp32 loss curve (every epoch within 3%), and says which precision it ran', { skip }, async (t) => {
  const faces = await runStage(synthesize, { params: { count: 480, size: 24, imbalance: 'balanced', splits: { train: 0.75, validation: 0.25 } }, seed: 5 });
  const data = (await runStage(normalise, { params: { mode: 'scale' }, inputs: { data: faces.outputs.data } })).outputs.data;
  const losses: Record<string, number[]> = {};
  for (const precision of ['fp32', 'bf16'] as const) {
    const model = (await runStage(buildModel, { params: { inputShape: [24, 24, 1], layers: LAYERS }, backend: 'wasm', seed: 3 })).outputs.model;
    const params = { epochs: 4, batchSize: 32, optimizer: { name: 'adam', learningRate: 0.003 }, workers: 1, precision };
    const trained = await runStage(train, { params, inputs: { model, data }, backend: 'wasm', seed: 9 });
    const history = JSON.parse(await readFile(trained.outputs.history, 'utf8')) as { epochs: Array<{ loss: number }>; precision: string };
    assert.equal((trained.summary as { precision: string }).precision, precision);
    assert.equal(history.precision, precision);
    losses[precision] = history.epochs.map((e) => e.loss);
    t.diagnostic(`${precision}: losses ${losses[precision].map((l) => l.toFixed(4))}`);
  }
  assert.ok(losses.fp32[3] < losses.fp32[0] * 0.9, `the network learns: losses ${losses.fp32}`);
  assert.notDeepEqual(losses.bf16, losses.fp32, 'bf16 trained exactly as fp32: it did not run in bf16');
  losses.fp32.forEach((ref, i) => {
    const rel = Math.abs(losses.bf16[i] - ref) / ref;
    assert.ok(rel <= 0.03, `epoch ${i + 1}: loss ${losses.bf16[i]} in bf16 vs ${ref} in fp32 (${(rel * 100).toFixed(2)}%)`);
  });
  assert.equal(oneDnnPrecision(), 'fp32', 'the precision is the training steps\' alone');
});

test("precision auto resolves to bf16 here, and the 'tensorflow' runtime fact tells bf16 machines apart", { skip }, async () => {
  assert.deepEqual(await resolvePrecision('wasm', 'auto'), { precision: 'bf16' });
  assert.deepEqual(await resolvePrecision('wasm', 'bf16'), { precision: 'bf16' });
  assert.deepEqual(await resolvePrecision('wasm', 'fp32'), { precision: 'fp32' });
  const cpu = await resolvePrecision('cpu', 'bf16');
  assert.equal(cpu.precision, 'fp32');
  assert.match(cpu.warning ?? '', /not available.*fp32/);
  assert.deepEqual(await resolvePrecision('cpu', 'auto'), { precision: 'fp32' });
  const facts = await runtimeFactsFor({ name: 'p', seed: 1, backend: { resolved: 'wasm' } })({ stage: train } as unknown as StageInstance);
  assert.equal(facts.bf16, 'native');
  const cpuFacts = await runtimeFactsFor({ name: 'p', seed: 1, backend: { resolved: 'cpu' } })({ stage: train } as unknown as StageInstance);
  assert.equal(cpuFacts.bf16, undefined, 'no bf16 fact where the kernels have none: those keys stay as they were');
});
