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
