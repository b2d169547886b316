// The wasm kernels that run on oneDNN (convolution forward, fused with bias and relu, both gradients,
// BatchMatMul and dense layers' _FusedMatMul, pooling, batch norm in training) agree with the reference `cpu` backend over paddings,
// strides, dilations and channel counts, and really run on oneDNN; a small net with batch norm and pooling
// trains to the same weights with and without it. So does its FusedBatchNorm, which is not installed (no
// faster than the SIMD one). CI installs oneDNN (.ci/run), so there its absence fails this file; elsewhere
// the wasm backend falls back to OpenBLAS or XNNPACK (tested in tf-wasm-kernels.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTf } from '../../src/tf/backend.js';
import { loadOneDnn } from '../../src/tf/native/onednn.js';
import { NATIVE_KERNELS, nativeKernels } from '../../src/tf/native/kernels.js';
import { wasmNativeKernelsRegistered } from '../../src/tf/wasm/register.js';
import { onednnBatchNormTraining, onednnBatchNormTrainingGrad, onednnFusedBatchNorm } from '../../src/tf/wasm/onednn-kernels.js';
import { BATCHNORM_TRAINING_GRAD_KERNEL, BATCHNORM_TRAINING_KERNEL, type KernelFunc } from '../../src/tf/types.js';
import { checkBatchMatMul, checkPooling, checkTrainingBatchNorm, kernelChecks, randomData, relError, withWasmKernels, type KernelInputs } from '../support/kernel-values.js';
import type { TrainedBnPoolModel } from '../support/bn-pool-model.js';

const found = loadOneDnn();
const missing = 'unavailable' in found ? found.unavailable : null;
const skip = missing && !process.env.CI ? `oneDNN is not available here: ${missing}` : false;

const { tf } = await loadTf('wasm');
const { runOn, assertSameAsCpu } = kernelChecks(tf);

function assertClose(got: Float32Array, ref: Float32Array, label: string) {
  const err = relError(got, ref);
  assert.ok(err <= 1e-4, `${label}: relative error ${err}`);
}

const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

test('oneDNN loads (CI installs libdnnl2) and runs every native kernel of the wasm backend', { skip }, async (t) => {
  assert.equal(missing, null, `oneDNN is expected in CI: ${missing}`);
  const { kernels } = await loadTf('wasm');
  t.diagnostic(kernels);
  assert.equal(nativeKernels().name, 'onednn');
  assert.match(kernels, /oneDNN/);
  assert.deepEqual(wasmNativeKernelsRegistered(tf), [...NATIVE_KERNELS.onednn.kernels]);
});

test('convolutions and both gradients on oneDNN match cpu: same/valid/explicit padding, strides 1 and 2, dilation, 1 to 32 channels', { skip }, async () => {
  const onednn = 'onednn' in found ? found.onednn : undefined;
  const before = onednn?.implementations().size ?? 0;
  let seed = 1;
  let checked = 0;
  const cases = [
    { n: 2, size: 9, cin: 1, cout: 8, k: 3, d: 1 },
    { n: 3, size: 8, cin: 3, cout: 16, k: 3, d: 1 },
    { n: 2, size: 7, cin: 16, cout: 32, k: 3, d: 1 },
    { n: 2, size: 6, cin: 32, cout: 4, k: 1, d: 1 },
    { n: 1, size: 11, cin: 5, cout: 3, k: 5, d: 1 },
    { n: 2, size: 10, cin: 4, cout: 8, k: 3, d: 2 },
  ];
  const pads: unknown[] = ['same', 'valid', [[0, 0], [1, 0], [2, 1], [0, 0]]];
  for (const c of cases) {
    for (const stride of c.d > 1 ? [1] : [1, 2]) {
      for (const pad of pads) {
        const span = (c.k - 1) * c.d + 1;
        const info = tf.backend_util.computeConv2DInfo([c.n, c.size, c.size, c.cin], [span, span, c.cin, c.cout], stride, 1, pad as never);
        if (info.outHeight <= 0 || info.outWidth <= 0) continue;
        const xShape = [c.n, c.size, c.size, c.cin];
        const filterShape = [c.k, c.k, c.cin, c.cout];
        const dyShape = [c.n, info.outHeight, info.outWidth, c.cout];
        const x = { shape: xShape, data: randomData(count(xShape), seed++) };
        const filter = { shape: filterShape, data: randomData(count(filterShape), seed++) };
        const dy = { shape: dyShape, data: randomData(count(dyShape), seed++) };
        const bias = { shape: [c.cout], data: randomData(c.cout, seed++) };
        const attrs = { strides: stride, pad, dataFormat: 'NHWC', dilations: c.d };
        const label = `${JSON.stringify(c)} stride ${stride} pad ${JSON.stringify(pad)}`;
        await assertSameAsCpu('Conv2D', { x, filter }, attrs, `Conv2D ${label}`);
        await assertSameAsCpu('FusedConv2D', { x, filter, bias }, { ...attrs, activation: 'relu' }, `FusedConv2D relu ${label}`);
        await assertSameAsCpu('FusedConv2D', { x, filter }, { ...attrs, activation: 'linear' }, `FusedConv2D linear ${label}`);
        // The cpu backend's gradients take no dilations: the next test checks dilated ones another way.
        if (c.d === 1) {
          await assertSameAsCpu('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: xShape }, `input gradient ${label}`);
          await assertSameAsCpu('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape }, `filter gradient ${label}`);
        }
        checked++;
      }
    }
  }
  assert.ok(checked >= 25, `only ${checked} cases ran`);
  // Each shape and direction made a primitive of its own: the kernels above ran on oneDNN, not a fallback.
  assert.ok((onednn?.implementations().size ?? 0) - before >= checked * 2, `oneDNN made ${onednn?.implementations().size} primitives for ${checked} cases`);
});

test('dilated convolution gradients on oneDNN match cpu gradients of the equivalent zero-inserted filter', { skip }, async () => {
  // A k×k filter with dilation d is a ((k−1)d+1)² filter with zeros between taps, which the cpu backend can
  // differentiate; its filter gradient at the tap positions is the dilated one.
  let seed = 700;
  for (const { n, size, cin, cout, k, d, pad } of [
    { n: 2, size: 10, cin: 4, cout: 8, k: 3, d: 2, pad: 'same' },
    { n: 1, size: 10, cin: 3, cout: 16, k: 2, d: 3, pad: 'valid' },
  ]) {
    const big = (k - 1) * d + 1;
    const info = tf.backend_util.computeConv2DInfo([n, size, size, cin], [big, big, cin, cout], 1, 1, pad as never);
    const xShape = [n, size, size, cin];
    const dyShape = [n, info.outHeight, info.outWidth, cout];
    const x = { shape: xShape, data: randomData(count(xShape), seed++) };
    const dy = { shape: dyShape, data: randomData(count(dyShape), seed++) };
    const filter = { shape: [k, k, cin, cout], data: randomData(k * k * cin * cout, seed++) };
    const bigFilter = { shape: [big, big, cin, cout], data: new Float32Array(big * big * cin * cout) };
    const tap = (i: number, j: number, ci: number, co: number, kk: number) => ((i * kk + j) * cin + ci) * cout + co;
    const eachTap = (f: (i: number, j: number, ci: number, co: number) => void) => {
      for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) f(i, j, ci, co);
    };
    eachTap((i, j, ci, co) => (bigFilter.data[tap(i * d, j * d, ci, co, big)] = filter.data[tap(i, j, ci, co, k)]));
    const base = { strides: 1, pad, dataFormat: 'NHWC' };
    const label = `n${n} ${size}px k${k} d${d} pad ${pad}`;
    const refDx = await runOn('cpu', 'Conv2DBackpropInput', { dy, filter: bigFilter }, { ...base, inputShape: xShape });
    const gotDx = await runOn('wasm', 'Conv2DBackpropInput', { dy, filter }, { ...base, dilations: d, inputShape: xShape });
    assertClose(gotDx.data, refDx.data, `dx ${label}`);
    const refDwBig = await runOn('cpu', 'Conv2DBackpropFilter', { x, dy }, { ...base, filterShape: bigFilter.shape });
    const refDw = new Float32Array(k * k * cin * cout);
    eachTap((i, j, ci, co) => (refDw[tap(i, j, ci, co, k)] = refDwBig.data[tap(i * d, j * d, ci, co, big)]));
    const gotDw = await runOn('wasm', 'Conv2DBackpropFilter', { x, dy }, { ...base, dilations: d, filterShape: filter.shape });
    assertClose(gotDw.data, refDw, `dW ${label}`);
  }
});

test('a fused convolution whose filter changes in place between calls uses the new values (its reorder is skipped only for equal bytes)', { skip }, async () => {
  await tf.setBackend('wasm');
  const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: 1, activation: 'relu' };
  const xShape = [2, 9, 9, 16];
  const filterShape = [3, 3, 16, 32];
  const x = { shape: xShape, data: randomData(count(xShape), 1301) };
  const bias = { shape: [32], data: randomData(32, 1302) };
  const filters = [randomData(count(filterShape), 1303), randomData(count(filterShape), 1304)];
  const wasm = { x: tf.tensor(x.data, xShape), filter: tf.tensor(filters[0], filterShape), bias: tf.tensor(bias.data, [32]) };
  try {
    // One filter tensor, rewritten on the heap as an optimiser would, then rewritten back: A, A, B, B, A.
    for (const which of [0, 0, 1, 1, 0]) {
      const backend = tf.backend() as unknown as { typedArrayFromHeap(t: unknown): Float32Array };
      backend.typedArrayFromHeap({ dataId: wasm.filter.dataId, shape: filterShape, dtype: 'float32' }).set(filters[which]);
      const y = tf.engine().runKernel('FusedConv2D', wasm as never, attrs as never) as ReturnType<typeof tf.tensor>;
      const got = (await y.data()) as Float32Array;
      y.dispose();
      const ref = await runOn('cpu', 'FusedConv2D', { x, filter: { shape: filterShape, data: filters[which] }, bias }, attrs);
      await tf.setBackend('wasm');
      assertClose(got, ref.data, `filter ${'AB'[which]}`);
    }
  } finally {
    Object.values(wasm).forEach((t) => t.dispose());
  }
});

test('BatchMatMul on oneDNN matches cpu for rank 2 to 4, either operand transposed, and a broadcast batch', { skip }, async () => {
  await checkBatchMatMul(assertSameAsCpu);
});

test('_FusedMatMul (dense layers) on oneDNN matches cpu with and without bias, linear and relu, either operand transposed', { skip }, async () => {
  const fusedMade = () => [...('onednn' in found ? found.onednn.implementations().keys() : [])].filter((key) => key.startsWith('matmul') && key.endsWith(' bias relu')).length;
  const before = fusedMade();
  let seed = 1200;
  // [a, b, transposeA, transposeB], rank 3 as tf.fused.matMul hands them over: the paper CNN's dense layers,
  // each transpose, a batch, a broadcast batch, small products. The stock kernel gets the bias wrong in all
  // but the two with a batch of 1 and no transpose.
  const cases: Array<[number[], number[], boolean, boolean]> = [
    [[1, 64, 2048], [1, 2048, 200], false, false],
    [[1, 64, 2048], [1, 200, 2048], false, true],
    [[1, 2048, 64], [1, 2048, 200], true, false],
    [[1, 200, 64], [1, 300, 200], true, true],
    [[4, 64, 96], [4, 96, 64], false, false],
    [[3, 64, 128], [1, 128, 48], false, false],
    [[1, 64, 200], [1, 200, 7], false, false],
    [[2, 7, 5], [2, 7, 3], true, false],
  ];
  for (const [aShape, bShape, transposeA, transposeB] of cases) {
    const n = transposeB ? bShape[1] : bShape[2];
    const a = { shape: aShape, data: randomData(count(aShape), seed++) };
    const b = { shape: bShape, data: randomData(count(bShape), seed++) };
    const bias = { shape: [n], data: randomData(n, seed++) };
    const label = JSON.stringify([aShape, bShape, transposeA, transposeB]);
    await assertSameAsCpu('_FusedMatMul', { a, b, bias }, { transposeA, transposeB, activation: 'relu' }, `_FusedMatMul relu + bias ${label}`);
    await assertSameAsCpu('_FusedMatMul', { a, b }, { transposeA, transposeB, activation: 'linear' }, `_FusedMatMul linear ${label}`);
  }
  // Each case made a fused primitive of its own: none fell back.
  assert.equal(fusedMade() - before, cases.length, 'fused matmul primitives made');
  // An activation oneDNN is not given falls back to XNNPACK's kernel.
  const [a, b] = [{ shape: [1, 64, 128], data: randomData(64 * 128, seed++) }, { shape: [1, 128, 160], data: randomData(128 * 160, seed++) }];
  await assertSameAsCpu('_FusedMatMul', { a, b, bias: { shape: [160], data: randomData(160, seed++) } }, { transposeA: false, transposeB: false, activation: 'elu' }, '_FusedMatMul elu');
});

/** The oneDNN primitives made so far whose key starts with `kind` (e.g. 'backward max pool'). */
function primitivesMade(kind: string): number {
  const onednn = 'onednn' in found ? found.onednn : undefined;
  return [...(onednn?.implementations().keys() ?? [])].filter((key) => key.startsWith(kind)).length;
}

test('pooling on oneDNN (max and average, both directions) matches cpu, ties included, for overlapping, padded and ragged windows', { skip }, async () => {
  assert.ok((await checkPooling(tf, assertSameAsCpu)) >= 40);
  for (const kind of ['forward max pool', 'forward-training max pool', 'backward max pool', 'forward avg-exclude-padding pool', 'backward avg-include-padding pool']) {
    assert.ok(primitivesMade(kind) >= 40, `only ${primitivesMade(kind)} '${kind}' primitives made`);
  }
});

/** A fallback that fails: a kernel made with it ran on oneDNN or threw. */
const refuse = (() => {
  throw new Error('oneDNN did not take this shape');
}) as unknown as KernelFunc & Parameters<typeof onednnBatchNormTraining>[1];

test('batch normalisation on oneDNN in training (output, batch statistics, dx, dγ, dβ) matches cpu: odd channels, batch 1, ranks 2 to 4', { skip }, async () => {
  const onednn = 'onednn' in found ? found.onednn : assert.fail(missing ?? '');
  const restore = withWasmKernels(tf, {
    [BATCHNORM_TRAINING_KERNEL]: onednnBatchNormTraining(onednn, refuse),
    [BATCHNORM_TRAINING_GRAD_KERNEL]: onednnBatchNormTrainingGrad(onednn, refuse),
  });
  try {
    for (const shape of [[9, 7, 10, 3], [4, 5, 6, 16], [1, 5, 3, 5], [1, 1, 2, 7], [6, 5], [3, 4, 6]]) await checkTrainingBatchNorm(tf, shape);
  } finally {
    restore();
  }
});

test('FusedBatchNorm on oneDNN (inference) matches cpu with and without offset and scale, odd channels, rank 2 and 4', { skip }, async () => {
  const onednn = 'onednn' in found ? found.onednn : assert.fail(missing ?? '');
  const restore = withWasmKernels(tf, { FusedBatchNorm: onednnFusedBatchNorm(onednn, refuse) });
  let seed = 820;
  try {
    for (const shape of [[3, 4, 5, 3], [2, 3, 3, 16], [1, 2, 2, 5], [7, 6]]) {
      const ch = shape[shape.length - 1];
      const x = { shape, data: randomData(count(shape), seed++) };
      const [mean, offset, scale] = [0, 1, 2].map(() => ({ shape: [ch], data: randomData(ch, seed++) }));
      const variance = { shape: [ch], data: randomData(ch, seed++).map((v) => v + 1.5) };
      for (const inputs of [{ x, mean, variance, offset, scale }, { x, mean, variance, scale }, { x, mean, variance, offset }, { x, mean, variance }] as KernelInputs[]) {
        await assertSameAsCpu('FusedBatchNorm', inputs, { varianceEpsilon: 1e-3 }, `FusedBatchNorm ${JSON.stringify(shape)}, inputs ${Object.keys(inputs)}`);
      }
    }
  } finally {
    restore();
  }
});

test('a small net with batch norm, max and average pooling trains to the same weights on wasm with and without oneDNN', { skip }, async () => {
  const { execFileSync } = await import('node:child_process');
  const support = new URL('../support/bn-pool-model.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(support)}); await m.printTrainedBnPoolModel()`;
  const train = (env: NodeJS.ProcessEnv): TrainedBnPoolModel =>
    JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' }));
  const onednn = train({});
  const without = train({ PIPE_ONEDNN: 'off' });
  for (const kind of ['forward max pool', 'backward max pool', 'forward avg-exclude-padding pool', 'backward avg-include-padding pool', 'batch-norm training', 'batch-norm backward']) {
    assert.ok(onednn.primitives.some((key) => key.startsWith(kind)), `no '${kind}' primitive ran: ${onednn.primitives.join('; ')}`);
  }
  assert.deepEqual(without.primitives, []);
  onednn.weights.forEach((w, i) => {
    const err = relError(Float32Array.from(w), Float32Array.from(without.weights[i]));
    assert.ok(err <= 1e-4, `weight ${i}: relative error ${err}`);
  });
  assert.ok(relError(Float32Array.from(onednn.predictions), Float32Array.from(without.predictions)) <= 1e-4);
});

test("workers: auto is one replica on oneDNN and two on OpenBLAS (PIPE_ONEDNN=off)", { skip }, async () => {
  const { execFileSync } = await import('node:child_process');
  const backendModule = new URL('../../src/tf/backend.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(backendModule)}); console.log(await m.defaultReplicas('wasm'), await m.defaultReplicas('cpu'))`;
  const answer = (env: NodeJS.ProcessEnv) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
  assert.equal(answer({}), '1 2');
  assert.equal(answer({ PIPE_ONEDNN: 'off' }), '2 2');
});
