// Inputs and comparisons for the kernel tests: deterministic values, one kernel run on a backend, and an
// error relative to the reference.
import assert from 'node:assert/strict';
import type { Tf } from '../../src/tf/backend.js';

export type KernelInputs = Record<string, { shape: number[]; data: Float32Array }>;

/** Deterministic pseudo-random values in [-1, 1). */
export function randomData(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** max |a − b| / max |b|: relative to the reference's scale. */
export function relError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

/** Kernel runners over one tfjs instance: the same input values on either backend, and wasm against cpu. */
export function kernelChecks(tf: Tf) {
  /** Runs one kernel on the named backend with the same input values; returns its output values and shape. */
  async function runOn(backend: 'wasm' | 'cpu', kernel: string, inputs: KernelInputs, attrs: Record<string, unknown>) {
    await tf.setBackend(backend);
    const ts: Record<string, ReturnType<Tf['tensor']>> = {};
    for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.data, v.shape);
    const out = tf.engine().runKernel(kernel, ts as never, attrs as never) as ReturnType<Tf['tensor']>;
    const result = { shape: out.shape, data: (await out.data()) as Float32Array };
    out.dispose();
    Object.values(ts).forEach((t) => t.dispose());
    return result;
  }
  /** The kernel on wasm gives cpu's shape and values within 1e-4 relative error. */
  async function assertSameAsCpu(kernel: string, inputs: KernelInputs, attrs: Record<string, unknown>, label: string) {
    const ref = await runOn('cpu', kernel, inputs, attrs);
    const got = await runOn('wasm', kernel, inputs, attrs);
    assert.deepEqual(got.shape, ref.shape, `${label}: shape`);
    const err = relError(got.data, ref.data);
    assert.ok(err <= 1e-4, `${label}: relative error ${err}`);
  }
  return { runOn, assertSameAsCpu };
}

/** BatchMatMul cases [a shape, b shape, transposeA, transposeB]: ranks 2 to 4, transposes, broadcast batches, dense layers' shapes. */
export const BATCH_MATMUL_CASES = [
  [[1, 5, 7], [1, 7, 3], false, false],
  [[4, 5, 7], [4, 3, 7], false, true],
  [[3, 7, 5], [1, 7, 6], true, false],
  [[1, 6, 4], [2, 3, 6], true, true],
  [[2, 1, 9], [2, 9, 1], false, false],
  [[64, 30], [30, 20], false, false], // rank 2, as dense layers call it
  [[6, 20], [30, 20], false, true],
  [[6, 30], [6, 20], true, false],
  [[64, 2048], [2048, 200], false, false], // the paper CNN's first dense layer
  [[64, 200], [2048, 200], false, true], // its input gradient
  [[64, 2048], [64, 200], true, false], // its weight gradient
  [[2, 3, 4, 5], [2, 3, 5, 2], false, false],
  [[2, 3, 4, 5], [5, 2], false, false],
] as const;

/** Checks every BATCH_MATMUL_CASES case on wasm against cpu. */
export async function checkBatchMatMul(assertSameAsCpu: ReturnType<typeof kernelChecks>['assertSameAsCpu']) {
  let seed = 950;
  const count = (shape: readonly number[]) => shape.reduce((p, q) => p * q, 1);
  for (const [aShape, bShape, transposeA, transposeB] of BATCH_MATMUL_CASES) {
    const a = { shape: [...aShape], data: randomData(count(aShape), seed++) };
    const b = { shape: [...bShape], data: randomData(count(bShape), seed++) };
    await assertSameAsCpu('BatchMatMul', { a, b }, { transposeA, transposeB }, `BatchMatMul ${JSON.stringify([aShape, bShape, transposeA, transposeB])}`);
  }
}

/** NHWC inputs for the pooling checks: odd and multiple-of-4 channel counts, batch 1, non-square images. */
const POOL_SHAPES: Array<[number, number, number, number]> = [[2, 8, 8, 3], [3, 7, 9, 5], [1, 5, 5, 1], [2, 9, 7, 4], [3, 6, 6, 8], [1, 11, 11, 16]];
/** [window, stride, padding]: tiling, windows that do not divide the input, overlapping and padded ones. */
const POOL_WINDOWS = [[2, 2, 'valid'], [3, 3, 'valid'], [2, 1, 'valid'], [3, 2, 'same'], [2, 2, 'same'], [3, 2, 'valid'], [3, 1, 'same']] as const;

/**
 * MaxPool, AvgPool and both gradients on wasm against cpu over POOL_SHAPES × POOL_WINDOWS, on coarse values so
 * that windows hold ties (the first maximum must receive the gradient) and on relu-like ones (zeros). Returns
 * how many cases ran.
 */
export async function checkPooling(tf: Tf, assertSameAsCpu: ReturnType<typeof kernelChecks>['assertSameAsCpu']): Promise<number> {
  let seed = 300;
  let checked = 0;
  for (const shape of POOL_SHAPES) {
    for (const [filterSize, strides, pad] of POOL_WINDOWS) {
      const info = tf.backend_util.computePool2DInfo([...shape], filterSize, strides, 1, pad);
      const count = shape.reduce((a, b) => a * b, 1);
      const raw = randomData(count, seed++);
      const label = `${JSON.stringify(shape)} window ${filterSize} stride ${strides} ${pad}`;
      const dy = { shape: info.outShape, data: randomData(info.outShape.reduce((a, b) => a * b), seed++) };
      const attrs = { filterSize, strides, pad };
      for (const [values, data] of [['ties', raw.map((v) => Math.round(v * 2) / 2)], ['relu', raw.map((v) => Math.max(0, v))]] as const) {
        const input = { shape: [...shape], data };
        await assertSameAsCpu('MaxPool', { x: input }, attrs, `MaxPool ${label} ${values}`);
        await assertSameAsCpu('MaxPoolGrad', { dy, input }, attrs, `MaxPoolGrad ${label} ${values}`);
      }
      const input = { shape: [...shape], data: raw };
      await assertSameAsCpu('AvgPool', { x: input }, attrs, `AvgPool ${label}`);
      await assertSameAsCpu('AvgPoolGrad', { dy, input }, attrs, `AvgPoolGrad ${label}`);
      checked++;
    }
  }
  return checked;
}

/**
 * A BatchNormalization layer in training (one fused op on wasm) against cpu: output, all gradients (dx, dγ, dβ)
 * and the moving statistics it leaves, each within 1e-4 relative error.
 */
export async function checkTrainingBatchNorm(tf: Tf, shape: number[]): Promise<void> {
  type Tensor = ReturnType<Tf['tensor']>;
  const ch = shape[shape.length - 1];
  const count = shape.reduce((a, b) => a * b, 1);
  // An offset and spread per channel like real activations, so the statistics are not trivially 0 and 1.
  const xData = randomData(count, 601).map((v, i) => 3 * v + (i % ch) * 2);
  const wData = randomData(count, 602);
  const weights = [randomData(ch, 603).map((v) => 1 + v), randomData(ch, 604), randomData(ch, 605), randomData(ch, 606).map((v) => 1.5 + v)];
  const results: Record<string, Float32Array[]> = {};
  for (const backend of ['cpu', 'wasm'] as const) {
    await tf.setBackend(backend);
    const layer = tf.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
    layer.build(shape);
    layer.setWeights(weights.map((v) => tf.tensor1d(v)));
    const x = tf.tensor(xData, shape);
    const w = tf.tensor(wData, shape);
    const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as Tensor & { name: string });
    const f = (a: Tensor) => tf.sum(tf.mul(tf.square(layer.apply(a, { training: true }) as Tensor), w)) as ReturnType<Tf['scalar']>;
    const y = tf.tidy(() => layer.apply(x, { training: true }) as Tensor);
    const { grads } = tf.variableGrads(() => f(x), [gamma, beta] as never);
    const dx = tf.grad(f)(x);
    const moving = layer.getWeights().slice(2);
    results[backend] = await Promise.all([y, dx, grads[gamma.name], grads[beta.name], ...moving].map(async (t) => (await t.data()) as Float32Array));
    tf.dispose([x, w, y, dx, ...Object.values(grads)]);
    tf.dispose(moving);
  }
  ['y', 'dx', 'dgamma', 'dbeta', 'moving mean', 'moving variance'].forEach((name, i) => {
    const err = relError(results.wasm[i], results.cpu[i]);
    assert.ok(err <= 1e-4, `${JSON.stringify(shape)} ${name}: relative error ${err}`);
  });
}

/**
 * Registers `kernels` on wasm in place of those registered now, until the returned function puts those back:
 * to check kernels that are not installed (wasm-onednn-kernels.ts has some) through the same ops and layers.
 */
export function withWasmKernels(tf: Tf, kernels: Record<string, unknown>): () => void {
  const previous = Object.keys(kernels).map((name) => [name, tf.getKernel(name, 'wasm')] as const);
  const register = (kernelName: string, kernelFunc: unknown) => {
    if (tf.getKernel(kernelName, 'wasm')) tf.unregisterKernel(kernelName, 'wasm');
    tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never });
  };
  for (const [name, kernelFunc] of Object.entries(kernels)) register(name, kernelFunc);
  return () => {
    for (const [name, config] of previous) {
      if (config) register(name, config.kernelFunc);
      else tf.unregisterKernel(name, 'wasm');
    }
  };
}
