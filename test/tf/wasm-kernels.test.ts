// The custom wasm training kernels agree with the reference `cpu` backend, refuse what they do not
// support, and let a real conv net train on wasm without leaking tensors. oneDNN is turned off here, so the
// convolutions run on OpenBLAS (and XNNPACK); tf-onednn-kernels.test.ts tests the oneDNN ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Scalar, Tensor, Tensor4D } from '@tensorflow/tfjs';
import { loadTf } from '../../src/tf/backend.js';
import { loadBlas } from '../../src/tf/native/blas.js';
import { NATIVE_KERNELS, nativeKernels } from '../../src/tf/native/kernels.js';
import { wasmNativeKernelsRegistered } from '../../src/tf/wasm/register.js';
import { checkBatchMatMul, checkPooling, checkTrainingBatchNorm, kernelChecks, randomData, relError, type KernelInputs } from '../support/kernel-values.js';

// Read when the kernels are first resolved, which loadTf does.
process.env.PIPE_ONEDNN = 'off';
const { tf } = await loadTf('wasm');

type Attrs = Record<string, unknown>;
const { runOn, assertSameAsCpu } = kernelChecks(tf);

function forwardOutSize(inSize: number, k: number, stride: number, pad: unknown, dim: 0 | 1, rounding?: string): number {
  const info = tf.backend_util.computeConv2DInfo([1, inSize, inSize, 1], [k, k, 1, 1], stride, 1, pad as never, rounding as never);
  return dim === 0 ? info.outHeight : info.outWidth;
}

const PADS: unknown[] = ['same', 'valid', [[0, 0], [1, 0], [2, 1], [0, 0]], [[0, 0], [0, 2], [1, 1], [0, 0]]];
const CASES = [
  { n: 1, size: 5, cin: 1, cout: 2, k: 3 },
  { n: 3, size: 8, cin: 3, cout: 4, k: 3 },
  { n: 2, size: 7, cin: 2, cout: 3, k: 2 },
  { n: 2, size: 6, cin: 4, cout: 5, k: 1 },
  { n: 4, size: 9, cin: 5, cout: 3, k: 5 },
];

test('Conv2DBackpropFilter and Conv2DBackpropInput on wasm match cpu over shapes, strides and paddings', async () => {
  let seed = 1;
  let checked = 0;
  for (const c of CASES) {
    for (const stride of [1, 2]) {
      for (const pad of [...PADS, 1]) {
        const rounding = typeof pad === 'number' ? 'floor' : undefined;
        const oh = forwardOutSize(c.size, c.k, stride, pad, 0, rounding);
        const ow = forwardOutSize(c.size, c.k, stride, pad, 1, rounding);
        if (oh <= 0 || ow <= 0) continue;
        const xShape = [c.n, c.size, c.size, c.cin];
        const filterShape = [c.k, c.k, c.cin, c.cout];
        const dyShape = [c.n, oh, ow, c.cout];
        const base = { strides: stride, pad, dataFormat: 'NHWC', dimRoundingMode: rounding };
        const label = `${JSON.stringify(c)} stride ${stride} pad ${JSON.stringify(pad)}`;
        const x = { shape: xShape, data: randomData(xShape.reduce((a, b) => a * b), seed++) };
        const dy = { shape: dyShape, data: randomData(dyShape.reduce((a, b) => a * b), seed++) };
        const filter = { shape: filterShape, data: randomData(filterShape.reduce((a, b) => a * b), seed++) };
        await assertSameAsCpu('Conv2DBackpropFilter', { x, dy }, { ...base, filterShape }, `filter grad ${label}`);
        await assertSameAsCpu('Conv2DBackpropInput', { dy, filter }, { ...base, inputShape: xShape }, `input grad ${label}`);
        checked++;
      }
    }
  }
  assert.ok(checked >= 40, `only ${checked} cases ran`);
});

test('dilated conv gradients on wasm match cpu gradients of the equivalent zero-inserted filter', async () => {
  // A k×k filter with dilation d is a ((k−1)d+1)² filter with zeros between taps, which the cpu
  // backend can differentiate; its filter gradient at the tap positions is the dilated one.
  let seed = 700;
  for (const { n, size, cin, cout, k, d, pad } of [
    { n: 2, size: 9, cin: 2, cout: 3, k: 3, d: 2, pad: 'same' },
    { n: 1, size: 10, cin: 3, cout: 2, k: 2, d: 3, pad: 'valid' },
    { n: 3, size: 8, cin: 1, cout: 4, k: 3, d: 2, pad: [[0, 0], [1, 2], [2, 0], [0, 0]] },
  ]) {
    const big = (k - 1) * d + 1;
    const oh = forwardOutSize(size, big, 1, pad, 0);
    const ow = forwardOutSize(size, big, 1, pad, 1);
    const xShape = [n, size, size, cin];
    const dyShape = [n, oh, ow, cout];
    const x = { shape: xShape, data: randomData(xShape.reduce((a, b) => a * b), seed++) };
    const dy = { shape: dyShape, data: randomData(dyShape.reduce((a, b) => a * b), seed++) };
    const filter = { shape: [k, k, cin, cout], data: randomData(k * k * cin * cout, seed++) };
    const bigFilter = { shape: [big, big, cin, cout], data: new Float32Array(big * big * cin * cout) };
    const tap = (i: number, j: number, ci: number, co: number, kk: number) => ((i * kk + j) * cin + ci) * cout + co;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) {
      bigFilter.data[tap(i * d, j * d, ci, co, big)] = filter.data[tap(i, j, ci, co, k)];
    }
    const label = `n${n} ${size}px k${k} d${d} pad ${JSON.stringify(pad)}`;
    const base = { strides: 1, pad, dataFormat: 'NHWC' };
    const refDx = await runOn('cpu', 'Conv2DBackpropInput', { dy, filter: bigFilter }, { ...base, inputShape: xShape });
    const gotDx = await runOn('wasm', 'Conv2DBackpropInput', { dy, filter }, { ...base, dilations: d, inputShape: xShape });
    assert.ok(relError(gotDx.data, refDx.data) <= 1e-4, `dx ${label}: ${relError(gotDx.data, refDx.data)}`);
    const refDwBig = await runOn('cpu', 'Conv2DBackpropFilter', { x, dy }, { ...base, filterShape: bigFilter.shape });
    const refDw = new Float32Array(k * k * cin * cout);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) for (let ci = 0; ci < cin; ci++) for (let co = 0; co < cout; co++) {
      refDw[tap(i, j, ci, co, k)] = refDwBig.data[tap(i * d, j * d, ci, co, big)];
    }
    const gotDw = await runOn('wasm', 'Conv2DBackpropFilter', { x, dy }, { ...base, dilations: d, filterShape: filter.shape });
    assert.ok(relError(gotDw.data, refDw) <= 1e-4, `dW ${label}: ${relError(gotDw.data, refDw)}`);
  }
});

test('conv gradients through tf.grads (layers path) match cpu, including stride 2 and a wide batch', async () => {
  const xShape = [16, 12, 12, 3];
  const fShape = [3, 3, 3, 8];
  const xData = randomData(16 * 12 * 12 * 3, 91);
  const fData = randomData(3 * 3 * 3 * 8, 92);
  const results: Record<string, Float32Array[]> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    await tf.setBackend(backend);
    const x = tf.tensor4d(xData, xShape as [number, number, number, number]);
    const f = tf.tensor4d(fData, fShape as [number, number, number, number]);
    const g = tf.grads((a, b) => tf.sum(tf.square(tf.conv2d(a as Tensor4D, b as Tensor4D, 2, 'same'))));
    const [dx, df] = g([x, f]);
    results[backend] = [(await dx.data()) as Float32Array, (await df.data()) as Float32Array];
    tf.dispose([x, f, dx, df]);
  }
  assert.ok(relError(results.wasm[0], results.cpu[0]) <= 1e-4, 'dx');
  assert.ok(relError(results.wasm[1], results.cpu[1]) <= 1e-4, 'dfilter');
});

test('fast Sum, Mean and Tile on wasm match cpu (SIMD and JavaScript paths), and fall back for other axes', async () => {
  // 6 channels take the JavaScript loop, 8 the SIMD kernel; 300 rows span more than one accumulation block.
  for (const shape of [[3, 5, 7, 6], [4, 15, 5, 8]]) {
    const x = { shape, data: randomData(shape.reduce((a, b) => a * b), 7).map((v) => v + 2) };
    for (const axis of [[0, 1, 2], [0], [0, 1], [1, 2], [3], [-1], [0, 1, 2, 3], 2]) {
      for (const keepDims of [false, true]) {
        await assertSameAsCpu('Sum', { x }, { axis, keepDims }, `Sum ${JSON.stringify(shape)} ${JSON.stringify(axis)} keepDims ${keepDims}`);
        await assertSameAsCpu('Mean', { x }, { axis, keepDims }, `Mean ${JSON.stringify(shape)} ${JSON.stringify(axis)} keepDims ${keepDims}`);
      }
    }
  }
  for (const [s, reps] of [
    [[1, 1, 1, 6], [3, 5, 7, 1]],
    [[2, 3], [2, 3]],
    [[2, 1, 3], [1, 4, 1]],
    [[4], [1]],
    [[2, 2, 2], [3, 1, 2]],
  ] as const) {
    const t = { shape: [...s], data: randomData(s.reduce((a: number, b: number) => a * b, 1), 11) };
    await assertSameAsCpu('Tile', { x: t }, { reps: [...reps] }, `Tile ${JSON.stringify(s)} x ${JSON.stringify(reps)}`);
  }
});

test('pooling on wasm (MaxPoolGrad: SIMD and JavaScript; the rest stock) matches cpu, ties included, for overlapping, padded and ragged windows', async () => {
  assert.ok((await checkPooling(tf, assertSameAsCpu)) >= 40);
});

for (const ch of [3, 8]) test(`batch-norm gradients on wasm (all five inputs, and through moments as in training) match cpu, ${ch} channels`, async () => {
  const shape: [number, number, number, number] = [4, 5, 6, ch];
  const xData = randomData(4 * 5 * 6 * ch, 501);
  const wData = randomData(4 * 5 * 6 * ch, 502);
  const stats = { mean: randomData(ch, 503), variance: randomData(ch, 504).map((v) => v + 1.5), offset: randomData(ch, 505), scale: randomData(ch, 506) };
  const results: Record<string, Float32Array[]> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    await tf.setBackend(backend);
    const x = tf.tensor4d(xData, shape);
    const w = tf.tensor4d(wData, shape);
    const [mean, variance, offset, scale] = [stats.mean, stats.variance, stats.offset, stats.scale].map((d) => tf.tensor1d(d));
    const direct = tf.grads((a, m, v, o, s) => tf.sum(tf.mul(tf.batchNorm(a, m, v, o, s, 1e-3), w)))([x, mean, variance, offset, scale]);
    const training = tf.grads((a, o, s) => {
      const mo = tf.moments(a, [0, 1, 2]);
      return tf.sum(tf.mul(tf.square(tf.batchNorm(a, mo.mean, mo.variance, o, s, 1e-3)), w));
    })([x, offset, scale]);
    results[backend] = await Promise.all([...direct, ...training].map(async (t) => (await t.data()) as Float32Array));
    tf.dispose([x, w, mean, variance, offset, scale, ...direct, ...training]);
  }
  results.cpu.forEach((ref, i) => {
    const err = relError(results.wasm[i], ref);
    assert.ok(err <= 1e-4, `gradient ${i}: relative error ${err}`);
  });
});

test('unsupported conv gradient configurations throw a clear error instead of computing', async () => {
  await tf.setBackend('wasm');
  const x = tf.zeros([1, 4, 4, 2]);
  const dy = tf.zeros([1, 4, 4, 3]);
  assert.throws(
    () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy } as never, { strides: 1, pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 2, 3] } as never),
    /NHWC/,
  );
  assert.throws(
    () =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy } as never, {
        strides: 2, dilations: 2, pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 2, 3],
      } as never),
    /strides .* dilations/,
  );
  const badDy = tf.zeros([1, 3, 3, 3]);
  assert.throws(
    () => tf.engine().runKernel('Conv2DBackpropInput', { dy: badDy, filter: tf.zeros([3, 3, 2, 3]) } as never, { strides: 1, pad: 'same', dataFormat: 'NHWC', inputShape: [1, 4, 4, 2] } as never),
    /does not match/,
  );
});

test('a small conv net with batch norm trains on wasm: loss falls and the tensor count stays flat', async () => {
  await tf.setBackend('wasm');
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'valid', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ],
  });
  const optimizer = tf.train.adam(0.01);
  // Three separable classes: a bright blob in a different corner per class.
  const n = 24;
  const xs = new Float32Array(n * 144);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const cls = i % 3;
    labels.push(cls);
    for (let r = 0; r < 12; r++) {
      for (let c = 0; c < 12; c++) {
        const hot = cls === 0 ? r < 5 && c < 5 : cls === 1 ? r >= 7 && c >= 7 : r < 5 && c >= 7;
        xs[i * 144 + r * 12 + c] = (hot ? 1 : 0) + 0.1 * Math.sin(i * 7 + r * 3 + c);
      }
    }
  }
  const x = tf.tensor4d(xs, [n, 12, 12, 1]);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
  const losses: number[] = [];
  const counts: number[] = [];
  for (let step = 0; step < 8; step++) {
    const cost = optimizer.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as Tensor)) as Scalar, true)!;
    losses.push((await cost.data())[0]);
    cost.dispose();
    counts.push(tf.memory().numTensors);
  }
  assert.ok(losses[7] < losses[0] * 0.8, `loss did not fall: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  // After the first step (optimizer slots created) the count must not grow.
  assert.deepEqual(new Set(counts.slice(1)).size, 1, `tensor count changed across steps: ${counts.join(' ')}`);
  tf.dispose([x, y]);
  model.dispose();
});

test('with OpenBLAS present, convolutions, their gradients and BatchMatMul run on it', (t) => {
  const found = loadBlas();
  if ('unavailable' in found) {
    // CI installs OpenBLAS (.ci/run), so there its absence is a failure, not a skip.
    assert.ok(!process.env.CI, `OpenBLAS is expected in CI: ${found.unavailable}`);
    t.skip(`OpenBLAS not available, the XNNPACK kernels are tested instead: ${found.unavailable}`);
    return;
  }
  t.diagnostic(`BLAS: ${found.blas.name}`);
  assert.equal(nativeKernels().name, 'openblas');
  assert.deepEqual(wasmNativeKernelsRegistered(tf), [...NATIVE_KERNELS.openblas.kernels]);
});

test('Conv2D and FusedConv2D on wasm match cpu over kernel sizes, dilations and paddings (stride 1 on BLAS, stride 2 stock)', async () => {
  let seed = 900;
  let checked = 0;
  for (const c of [...CASES, { n: 2, size: 9, cin: 3, cout: 4, k: 3, d: 2 }, { n: 1, size: 11, cin: 2, cout: 2, k: 2, d: 3 }]) {
    const d = 'd' in c ? c.d : 1;
    for (const stride of d > 1 ? [1] : [1, 2]) {
      for (const pad of PADS) {
        const span = (c.k - 1) * d + 1;
        if (forwardOutSize(c.size, span, stride, pad, 0) <= 0 || forwardOutSize(c.size, span, stride, pad, 1) <= 0) continue;
        const xShape = [c.n, c.size, c.size, c.cin];
        const filterShape = [c.k, c.k, c.cin, c.cout];
        const x = { shape: xShape, data: randomData(xShape.reduce((a, b) => a * b), seed++) };
        const filter = { shape: filterShape, data: randomData(filterShape.reduce((a, b) => a * b), seed++) };
        const attrs = { strides: stride, pad, dataFormat: 'NHWC', dilations: d };
        const label = `${JSON.stringify(c)} stride ${stride} pad ${JSON.stringify(pad)}`;
        await assertSameAsCpu('Conv2D', { x, filter }, attrs, `Conv2D ${label}`);
        // model.predict runs FusedConv2D: with and without a bias, linear and relu.
        const bias = { shape: [c.cout], data: randomData(c.cout, seed++) };
        const activation = checked % 2 ? 'relu' : 'linear';
        const inputs: KernelInputs = checked % 3 ? { x, filter, bias } : { x, filter };
        await assertSameAsCpu('FusedConv2D', inputs, { ...attrs, activation }, `FusedConv2D ${activation} ${label}`);
        checked++;
      }
    }
  }
  assert.ok(checked >= 40, `only ${checked} cases ran`);
});

test('BatchMatMul on wasm matches cpu for rank 2 to 4, either operand transposed, and a broadcast batch', async () => {
  await checkBatchMatMul(assertSameAsCpu);
});

for (const shape of [[9, 7, 10, 3], [9, 7, 10, 4], [1, 5, 3, 8], [6, 5]]) test(`a BatchNormalization layer in training on wasm (one fused op) matches cpu: output, moving statistics and all gradients, ${JSON.stringify(shape)}`, async () => {
  // 4 and 8 channels run the SIMD kernels, 3 and 5 the JavaScript loops; 9 images of 70 rows span several SIMD blocks.
  await checkTrainingBatchNorm(tf, shape);
});

test('the SIMD module is assembled and binds to the wasm heap', async () => {
  await tf.setBackend('wasm');
  const { simdKernels } = await import('../../src/tf/wasm/simd.js');
  assert.ok(simdKernels(tf.backend() as never), 'run npm run build: it assembles src/tf/wasm/simd-kernels.wat');
});

test('FusedBatchNorm on wasm (inference) matches cpu with and without offset and scale, SIMD and stock paths', async () => {
  let seed = 800;
  for (const ch of [3, 8]) {
    const shape = [5, 4, 6, ch];
    const x = { shape, data: randomData(shape.reduce((a, b) => a * b), seed++).map((v) => 4 * v + 1) };
    const vec = (f: (v: number) => number = (v) => v) => ({ shape: [ch], data: randomData(ch, seed++).map(f) });
    const [mean, variance, offset, scale] = [vec(), vec((v) => v + 1.5), vec(), vec()];
    for (const inputs of [{ x, mean, variance, offset, scale }, { x, mean, variance }, { x, mean, variance, scale }] as KernelInputs[]) {
      await assertSameAsCpu('FusedBatchNorm', inputs, { varianceEpsilon: 1e-3 }, `FusedBatchNorm ${ch} channels, inputs ${Object.keys(inputs)}`);
    }
  }
});

test('Identity on wasm shares the data safely: a clone outlives its source, variables keep their values', async () => {
  await tf.setBackend('wasm');
  const before = tf.memory().numBytes;
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x);
  assert.equal((y as unknown as { dataId: object }).dataId, (x as unknown as { dataId: object }).dataId, 'the clone shares the data');
  x.dispose();
  assert.deepEqual(Array.from(await y.data()), [1, 2, 3]);
  const v = tf.variable(y);
  y.dispose();
  const next = tf.tensor1d([4, 5, 6]);
  v.assign(next);
  next.dispose();
  assert.deepEqual(Array.from(await v.data()), [4, 5, 6]);
  v.dispose();
  assert.equal(tf.memory().numBytes, before);
});

test('bias Add, Relu and the relu gradient on wasm (SIMD and stock paths) match cpu', async () => {
  let seed = 1000;
  const data = (shape: number[]) => ({ shape, data: randomData(shape.reduce((a, b) => a * b, 1), seed++) });
  for (const ch of [6, 8]) {
    const x = data([3, 5, 7, ch]);
    const bias = data([ch]);
    await assertSameAsCpu('Add', { a: x, b: bias }, {}, `Add [.., ${ch}] + [${ch}]`);
    await assertSameAsCpu('Add', { a: bias, b: x }, {}, `Add [${ch}] + [.., ${ch}]`);
  }
  await assertSameAsCpu('Add', { a: data([4, 8]), b: data([4, 8]) }, {}, 'Add of equal shapes');
  for (const shape of [[2, 3, 4, 4], [3, 5, 7], [7]]) {
    // Exact zeros and negatives, so both sides of the relu (and its gradient at 0) are covered.
    const x = data(shape);
    x.data = x.data.map((v, i) => (i % 5 === 0 ? 0 : v));
    await assertSameAsCpu('Relu', { x }, {}, `Relu ${JSON.stringify(shape)}`);
    const dy = data(shape);
    const grads: Float32Array[] = [];
    for (const backend of ['cpu', 'wasm'] as const) {
      await tf.setBackend(backend);
      const [xt, dyt] = [tf.tensor(x.data, shape), tf.tensor(dy.data, shape)];
      const g = tf.grad((a: Tensor) => tf.relu(a))(xt, dyt);
      grads.push((await g.data()) as Float32Array);
      tf.dispose([xt, dyt, g]);
    }
    assert.ok(relError(grads[1], grads[0]) <= 1e-6, `relu gradient ${JSON.stringify(shape)}`);
  }
});

test('Adam on wasm (one fused SIMD pass per weight) gives the same weights and moments as on cpu over several steps', async () => {
  const shapes = [[3, 3, 2, 8], [7], [5, 3]]; // 144, 7 and 15 values: whole SIMD chunks and tails
  const results: Record<string, Float32Array[]> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    await tf.setBackend(backend);
    const vars = shapes.map((s, i) => tf.variable(tf.tensor(randomData(s.reduce((a, b) => a * b), 1100 + i), s), true, `adam_test_${backend}_${i}`));
    const optimizer = tf.train.adam(0.01);
    for (let step = 0; step < 5; step++) {
      const grads = Object.fromEntries(vars.map((v, i) => [v.name, tf.tensor(randomData(v.size, 1200 + 10 * step + i), v.shape)]));
      optimizer.applyGradients(grads as never);
      tf.dispose(Object.values(grads));
    }
    const state = (await optimizer.getWeights()).map((w) => w.tensor);
    results[backend] = await Promise.all([...vars, ...state].map(async (t) => (await t.data()) as Float32Array));
    optimizer.dispose();
    tf.dispose(vars);
  }
  assert.equal(results.wasm.length, results.cpu.length);
  results.cpu.forEach((ref, i) => assert.ok(relError(results.wasm[i], ref) <= 1e-6, `tensor ${i}: relative error ${relError(results.wasm[i], ref)}`));
});
