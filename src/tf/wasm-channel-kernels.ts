// Per-channel kernels on the wasm heap for channels-last tensors ([rows, C]), shared by the batch-norm
// paths (wasm-batchnorm-training.ts for layers in training, wasm-batchnorm-grad.ts for tf.batchNorm's own
// gradient) and inference: batch statistics, the two gradient sums, an affine map per channel. Each runs the
// SIMD module (wasm-simd.ts) when C is a multiple of 4, else a JavaScript loop.
import type { KernelFunc, WasmBackend } from './wasm-fast-reductions.js';
import type { Tf } from './backend.js';
import { simdKernels } from './wasm-simd.js';

type TensorInfo = { dataId: object; shape: number[]; dtype: string };

export const CHANNEL_SUMS_KERNEL = 'PipeBatchNormChannelSums';
export const CHANNEL_MOMENTS_KERNEL = 'PipeChannelMoments';
export const BATCHNORM_INPUT_GRAD_KERNEL = 'PipeBatchNormInputGrad';
export const SCALE_SHIFT_KERNEL = 'PipeScaleShift';

function channelsAndRows(shape: number[]): { ch: number; rows: number } {
  const ch = shape[shape.length - 1];
  return { ch, rows: ch === 0 ? 0 : shape.reduce((a, b) => a * b, 1) / ch };
}

/** dy, x, mean (channels-last) → [2, C]: row 0 Σdy, row 1 Σdy·(x−mean), over every axis but the last. */
const channelSums = (({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: WasmBackend }) => {
  const { dy, x, mean } = inputs;
  const { ch, rows } = channelsAndRows(x.shape);
  const out = backend.makeOutput([2, ch], 'float32');
  const simd = ch % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    const [sum, dot] = simd.colSumDotCentered(dy, x, (backend.typedArrayFromHeap(mean) as Float32Array).slice());
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    o.set(sum);
    o.set(dot, ch);
    return out;
  }
  // Views only after the allocation: makeOutput may grow the heap.
  const [g, xv, m, o] = [dy, x, mean, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const sumDy = new Float64Array(ch);
  const sumDyXm = new Float64Array(ch);
  // Σdy·(x − μ) = Σdy·x − μ·Σdy, summed in float64; two rows per pass halve the accumulator traffic.
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const b0 = r * ch;
    const b1 = b0 + ch;
    for (let c = 0; c < ch; c++) {
      const d0 = g[b0 + c];
      const d1 = g[b1 + c];
      sumDy[c] += d0 + d1;
      sumDyXm[c] += d0 * xv[b0 + c] + d1 * xv[b1 + c];
    }
  }
  for (; r < rows; r++) {
    const b = r * ch;
    for (let c = 0; c < ch; c++) {
      const d = g[b + c];
      sumDy[c] += d;
      sumDyXm[c] += d * xv[b + c];
    }
  }
  for (let c = 0; c < ch; c++) sumDyXm[c] -= m[c] * sumDy[c];
  for (let c = 0; c < ch; c++) {
    o[c] = sumDy[c];
    o[ch + c] = sumDyXm[c];
  }
  return out;
}) as unknown as KernelFunc;

/** x (channels last) → [2, C]: per-channel mean and (biased) variance, as tf.moments gives. */
const channelMoments = (({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: WasmBackend }) => {
  const { x } = inputs;
  const { ch, rows } = channelsAndRows(x.shape);
  const out = backend.makeOutput([2, ch], 'float32');
  const simd = ch % 4 === 0 && rows > 0 ? simdKernels(backend) : null;
  if (simd) {
    // Two passes (mean, then squared deviations): exact however large the mean is against the spread.
    const mean = Float32Array.from(simd.colSum(x), (v) => v / rows);
    const sq = simd.colSqCentered(x, mean);
    const o = backend.typedArrayFromHeap(out) as Float32Array;
    o.set(mean);
    o.set(Float32Array.from(sq, (v) => v / rows), ch);
    return out;
  }
  const [xv, o] = [x, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  // Float64 sums of x and x² in one pass: exact enough for float32 data that E[x²] − E[x]² does not cancel.
  const sum = new Float64Array(ch);
  const sumSq = new Float64Array(ch);
  let r = 0;
  for (; r + 2 <= rows; r += 2) {
    const b0 = r * ch;
    const b1 = b0 + ch;
    for (let c = 0; c < ch; c++) {
      const v0 = xv[b0 + c];
      const v1 = xv[b1 + c];
      sum[c] += v0 + v1;
      sumSq[c] += v0 * v0 + v1 * v1;
    }
  }
  for (; r < rows; r++) {
    const b = r * ch;
    for (let c = 0; c < ch; c++) {
      const v = xv[b + c];
      sum[c] += v;
      sumSq[c] += v * v;
    }
  }
  for (let c = 0; c < ch; c++) {
    const mean = rows ? sum[c] / rows : 0;
    o[c] = mean;
    o[ch + c] = rows ? Math.max(0, sumSq[c] / rows - mean * mean) : 0;
  }
  return out;
}) as unknown as KernelFunc;

/** dy, x, coeffs [4, C] (μ, k, a, b) → dx = k·(dy − a − (x − μ)·b), one pass. */
const inputGrad = (({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: WasmBackend }) => {
  const { dy, x, coeffs } = inputs;
  const { ch, rows } = channelsAndRows(x.shape);
  const out = backend.makeOutput(x.shape, 'float32');
  const [g, xv, cf, o] = [dy, x, coeffs, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  // k·(dy − a − (x − μ)·b) = p·dy + q·x + s per channel: two loads per element.
  const p = new Float32Array(ch);
  const q = new Float32Array(ch);
  const s = new Float32Array(ch);
  for (let c = 0; c < ch; c++) {
    const [mean, k, a, b] = [cf[c], cf[ch + c], cf[2 * ch + c], cf[3 * ch + c]];
    p[c] = k;
    q[c] = -k * b;
    s[c] = k * (b * mean - a);
  }
  const simd = ch % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    simd.affine2(dy, x, out, p, q, s);
    return out;
  }
  const total = rows * ch;
  for (let base = 0; base < total; base += ch) {
    for (let c = 0; c < ch; c++) o[base + c] = p[c] * g[base + c] + q[c] * xv[base + c] + s[c];
  }
  return out;
}) as unknown as KernelFunc;

/** x, coeffs [2, C] (k, s) → k·x + s per channel: the normalisation itself, one pass. */
const scaleShift = (({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: WasmBackend }) => {
  const { x, coeffs } = inputs;
  const { ch } = channelsAndRows(x.shape);
  const out = backend.makeOutput(x.shape, 'float32');
  const [xv, cf, o] = [x, coeffs, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const k = cf.slice(0, ch);
  const s = cf.slice(ch, 2 * ch);
  const simd = ch % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    simd.scaleShift(x, out, k, s);
    return out;
  }
  for (let base = 0; base < xv.length; base += ch) {
    for (let c = 0; c < ch; c++) o[base + c] = k[c] * xv[base + c] + s[c];
  }
  return out;
}) as unknown as KernelFunc;

/**
 * FusedBatchNorm (inference: moving statistics) as the same one-pass scale-and-shift where every statistic
 * is per channel and channels are a multiple of 4; the stock kernel takes the rest.
 */
export function fastFusedBatchNorm(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { x, mean, variance, offset, scale } = args.inputs;
    const eps = args.attrs.varianceEpsilon as number;
    const { ch } = channelsAndRows(x.shape);
    const perChannel = (t: TensorInfo | undefined) => !t || (t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === ch);
    const simd = ch % 4 === 0 && x.dtype === 'float32' && [mean, variance, offset, scale].every(perChannel) ? simdKernels(args.backend) : null;
    if (!simd || !mean || !variance) return stock(args);
    const read = (t: TensorInfo | undefined, fallback: number) =>
      t ? (args.backend.typedArrayFromHeap(t) as Float32Array).slice() : new Float32Array(ch).fill(fallback);
    const [m, v, b, g] = [read(mean, 0), read(variance, 1), read(offset, 0), read(scale, 1)];
    const k = new Float32Array(ch);
    const shift = new Float32Array(ch);
    for (let c = 0; c < ch; c++) {
      k[c] = g[c] / Math.sqrt(v[c] + eps);
      shift[c] = b[c] - k[c] * m[c];
    }
    const out = args.backend.makeOutput(x.shape, 'float32');
    simd.scaleShift(x, out, k, shift);
    return out;
  };
}

/** Registers the kernels above on wasm. Idempotent. */
export function registerChannelKernels(tf: Tf): void {
  const kernels = [
    [CHANNEL_SUMS_KERNEL, channelSums],
    [CHANNEL_MOMENTS_KERNEL, channelMoments],
    [BATCHNORM_INPUT_GRAD_KERNEL, inputGrad],
    [SCALE_SHIFT_KERNEL, scaleShift],
  ] as const;
  for (const [kernelName, fn] of kernels) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as never });
  }
}
