// The wasm kernels that run on oneDNN (convolution forward, fused with bias and relu, both gradients, and
// BatchMatMul) agree with the reference `cpu` backend over paddings, strides, dilations and channel counts,
// and really run on oneDNN. CI installs oneDNN (.ci/run), so there its absence fails this file; elsewhere
// the wasm backend falls back to OpenBLAS or XNNPACK (tested in tf-wasm-kernels.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTf } from '../src/tf/backend.js';
import { loadOneDnn } from '../src/tf/onednn.js';
import { nativeKernels } from '../src/tf/native-kernels.js';
import { WASM_NATIVE_KERNELS, wasmNativeKernelsRegistered } from '../src/tf/wasm-kernels.js';
import { checkBatchMatMul, kernelChecks, randomData, relError } from './support/kernel-values.js';

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
  assert.deepEqual(wasmNativeKernelsRegistered(tf), [...WASM_NATIVE_KERNELS]);
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

test('BatchMatMul on oneDNN matches cpu for rank 2 to 4, either operand transposed, and a broadcast batch', { skip }, async () => {
  await checkBatchMatMul(assertSameAsCpu);
});

test("workers: auto is one replica on oneDNN and two on OpenBLAS (PIPE_ONEDNN=off)", { skip }, async () => {
  const { execFileSync } = await import('node:child_process');
  const backendModule = new URL('../src/tf/backend.js', import.meta.url).href;
  const script = `const m = await import(${JSON.stringify(backendModule)}); console.log(await m.defaultWorkers('wasm'), await m.defaultWorkers('cpu'))`;
  const answer = (env: NodeJS.ProcessEnv) =>
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' }).trim();
  assert.equal(answer({}), '1 2');
  assert.equal(answer({ PIPE_ONEDNN: 'off' }), '2 2');
});
