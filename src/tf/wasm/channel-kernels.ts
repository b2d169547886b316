// Per-channel kernels on the wasm heap for channels-last tensors ([rows, C]), shared by the batch-norm
// paths (wasm/batchnorm-training.ts for layers in training, wasm/batchnorm-grad.ts for tf.batchNorm's own
// gradient) and inference: batch statistics, the two gradient sums, an affine map per channel, and from them
// batch normalisation in training and its gradient. Each runs the SIMD module (wasm/simd.ts) when C is a
// multiple of 4, else a JavaScript loop. Where oneDNN loads, its primitives take the training pair's place
// by name (wasm/onednn-kernels.ts, native/kernels.ts), with these as their fallback.
import { BATCHNORM_TRAINING_GRAD_KERNEL, BATCHNORM_TRAINING_KERNEL, type KernelFunc, type MultiOutputKernelFunc, type TensorInfo, type Tf, type WasmBackend } from '../types.js';
import { simdKernels } from './simd.js';

export const CHANNEL_SUMS_KERNEL = 'PipeBatchNormChannelSums';
export const SCALE_SHIFT_KERNEL = 'PipeScaleShift';

function channelsAndRows(shape: number[]): { ch: number; rows: number } {
  const ch = shape[shape.length - 1];
  return { ch, rows: ch === 0 ? 0 : shape.reduce((a, b) => a * b, 1) / ch };
}

/** Σdy and Σdy·(x − mean) per channel of channels-last dy and x, over every axis but the last. */
function channelSumsOf(backend: WasmBackend, dy: TensorInfo, x: TensorInfo, m: Float32Array): { sumDy: Float64Array; sumDyXm: Float64Array } {
  const { ch, rows } = channelsAndRows(x.shape);
  const simd = ch % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    const [sumDy, sumDyXm] = simd.colSumDotCentered(dy, x, m);
    return { sumDy, sumDyXm };
  }
  const [g, xv] = [dy, x].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
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
  return { sumDy, sumDyXm };
}

/** dy, x, mean (channels-last) → [2, C]: row 0 Σdy, row 1 Σdy·(x−mean), over every axis but the last. */
const channelSums = (({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: WasmBackend }) => {
  const { dy, x, mean } = inputs;
  const { sumDy, sumDyXm } = channelSumsOf(backend, dy, x, (backend.typedArrayFromHeap(mean) as Float32Array).slice());
  const out = backend.makeOutput([2, sumDy.length], 'float32');
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  o.set(sumDy);
  o.set(sumDyXm, sumDy.length);
  return out;
}) as unknown as KernelFunc;

/** Per-channel mean and (biased) variance of channels-last x, as tf.moments gives. */
function momentsOf(backend: WasmBackend, x: TensorInfo): { mean: Float32Array; variance: Float32Array } {
  const { ch, rows } = channelsAndRows(x.shape);
  const simd = ch % 4 === 0 && rows > 0 ? simdKernels(backend) : null;
  if (simd) {
    // Two passes (mean, then squared deviations): exact however large the mean is against the spread.
    const mean = Float32Array.from(simd.colSum(x), (v) => v / rows);
    const sq = simd.colSqCentered(x, mean);
    return { mean, variance: Float32Array.from(sq, (v) => v / rows) };
  }
  const xv = backend.typedArrayFromHeap(x) as Float32Array;
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
  const mean = new Float32Array(ch);
  const variance = new Float32Array(ch);
  for (let c = 0; c < ch; c++) {
    mean[c] = rows ? sum[c] / rows : 0;
    variance[c] = rows ? Math.max(0, sumSq[c] / rows - mean[c] * mean[c]) : 0;
  }
  return { mean, variance };
}

/** out = k·(dy − a − (x − μ)·b) per channel, one pass (the input gradient of batch normalisation). */
function inputGradInto(backend: WasmBackend, dy: TensorInfo, x: TensorInfo, out: TensorInfo, coeffs: { mean: Float32Array; k: Float32Array; a: Float32Array; b: Float32Array }): void {
  const { ch, rows } = channelsAndRows(x.shape);
  // k·(dy − a − (x − μ)·b) = p·dy + q·x + s per channel: two loads per element.
  const p = new Float32Array(ch);
  const q = new Float32Array(ch);
  const s = new Float32Array(ch);
  const { mean, k, a, b } = coeffs;
  for (let c = 0; c < ch; c++) {
    p[c] = k[c];
    q[c] = -k[c] * b[c];
    s[c] = k[c] * (b[c] * mean[c] - a[c]);
  }
  const simd = ch % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    simd.affine2(dy, x, out, p, q, s);
    return;
  }
  const [g, xv, o] = [dy, x, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const total = rows * ch;
  for (let base = 0; base < total; base += ch) {
    for (let c = 0; c < ch; c++) o[base + c] = p[c] * g[base + c] + q[c] * xv[base + c] + s[c];
  }
}

/** out = k·x + s per channel, one pass. */
function scaleShiftInto(backend: WasmBackend, x: TensorInfo, out: TensorInfo, k: Float32Array, s: Float32Array): void {
  const { ch } = channelsAndRows(x.shape);
  const simd = ch % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    simd.scaleShift(x, out, k, s);
    return;
  }
  const [xv, o] = [x, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  for (let base = 0; base < xv.length; base += ch) {
    for (let c = 0; c < ch; c++) o[base + c] = k[c] * xv[base + c] + s[c];
  }
}

/** x, coeffs [2, C] (k, s) → k·x + s per channel: the normalisation itself, one pass. */
const scaleShift = (({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: WasmBackend }) => {
  const { x, coeffs } = inputs;
  const { ch } = channelsAndRows(x.shape);
  const cf = (backend.typedArrayFromHeap(coeffs) as Float32Array).slice();
  const out = backend.makeOutput(x.shape, 'float32');
  scaleShiftInto(backend, x, out, cf.subarray(0, ch), cf.subarray(ch, 2 * ch));
  return out;
}) as unknown as KernelFunc;

/** Reads a small float32 tensor (a per-channel vector) off the heap into an array of its own. */
function copyOf(backend: WasmBackend, t: TensorInfo): Float32Array {
  return (backend.typedArrayFromHeap(t) as Float32Array).slice();
}

/**
 * BATCHNORM_TRAINING_KERNEL in two passes over x for the statistics and one for y = k·x + (β − k·μ),
 * k = γ/√(σ² + ε).
 */
export const batchNormTraining: MultiOutputKernelFunc = ({ inputs, attrs, backend }) => {
  const { x, gamma, beta } = inputs;
  const { ch } = channelsAndRows(x.shape);
  const { mean, variance } = momentsOf(backend, x);
  const [g, b] = [gamma, beta].map((t) => copyOf(backend, t));
  const k = new Float32Array(ch);
  const shift = new Float32Array(ch);
  for (let c = 0; c < ch; c++) {
    k[c] = g[c] / Math.sqrt(variance[c] + (attrs.epsilon as number));
    shift[c] = b[c] - k[c] * mean[c];
  }
  const y = backend.makeOutput(x.shape, 'float32');
  const stats = backend.makeOutput([2, ch], 'float32');
  scaleShiftInto(backend, x, y, k, shift);
  const out = backend.typedArrayFromHeap(stats) as Float32Array;
  out.set(mean);
  out.set(variance, ch);
  return [y, stats];
};

/**
 * BATCHNORM_TRAINING_GRAD_KERNEL in closed form, one pass for the two per-channel sums and one for dx, with
 * r = 1/√(σ² + ε) and n values per channel:
 *   dβ = Σdy,  dγ = r·Σdy·(x − μ),  dx = γr·(dy − Σdy/n − (x − μ)·r²·Σdy·(x − μ)/n)
 */
export const batchNormTrainingGrad: MultiOutputKernelFunc = ({ inputs, attrs, backend }) => {
  const { dy, x, stats, gamma } = inputs;
  const { ch, rows } = channelsAndRows(x.shape);
  const st = copyOf(backend, stats);
  const mean = st.subarray(0, ch);
  const g = copyOf(backend, gamma);
  const { sumDy, sumDyXm } = channelSumsOf(backend, dy, x, mean);
  const k = new Float32Array(ch);
  const a = new Float32Array(ch);
  const b = new Float32Array(ch);
  const dGamma = new Float32Array(ch);
  for (let c = 0; c < ch; c++) {
    const r = 1 / Math.sqrt(st[ch + c] + (attrs.epsilon as number));
    k[c] = g[c] * r;
    a[c] = sumDy[c] / rows;
    b[c] = (r * r * sumDyXm[c]) / rows;
    dGamma[c] = sumDyXm[c] * r;
  }
  const outs = [backend.makeOutput(x.shape, 'float32'), backend.makeOutput([ch], 'float32'), backend.makeOutput([ch], 'float32')];
  inputGradInto(backend, dy, x, outs[0], { mean, k, a, b });
  (backend.typedArrayFromHeap(outs[1]) as Float32Array).set(dGamma);
  (backend.typedArrayFromHeap(outs[2]) as Float32Array).set(sumDy);
  return outs;
};

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
    [SCALE_SHIFT_KERNEL, scaleShift],
    [BATCHNORM_TRAINING_KERNEL, batchNormTraining],
    [BATCHNORM_TRAINING_GRAD_KERNEL, batchNormTrainingGrad],
  ] as const;
  for (const [kernelName, fn] of kernels) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as never });
  }
}
