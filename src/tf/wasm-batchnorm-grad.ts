// A two-pass batch-norm gradient for the wasm backend.
//
// tfjs-core's FusedBatchNorm gradient builds each of its five outputs from separate full-size ops
// (sub, several muls, a tile, four reductions): about a dozen passes over every activation. All five
// need only two per-channel sums, Σdy and Σdy·(x−mean), plus one scaled copy of dy for dx, so on wasm
// two small kernels of our own do it in two passes and the registered gradient routes to them. On
// other backends, and for shapes they do not cover, the original gradient runs unchanged.
import type { Tf } from './backend.js';
import type { KernelFunc, WasmBackend } from './wasm-fast-reductions.js';
import { simdKernels } from './wasm-simd.js';

type TensorInfo = { dataId: object; shape: number[]; dtype: string };
type Tensor = ReturnType<Tf['tensor']>;

export const CHANNEL_SUMS_KERNEL = 'PipeBatchNormChannelSums';
export const SCALE_CHANNELS_KERNEL = 'PipeScaleChannels';

/** dy, x, mean (channels-last) → [2, C]: row 0 Σdy, row 1 Σdy·(x−mean), over every axis but the last. */
const channelSums = (({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: WasmBackend }) => {
  const { dy, x, mean } = inputs;
  const ch = x.shape[x.shape.length - 1];
  const rows = x.shape.reduce((a, b) => a * b, 1) / ch;
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

/** x (channels-last) times a per-channel factor k [C]: one pass, no broadcast machinery. */
const scaleChannels = (({ inputs, backend }: { inputs: Record<string, TensorInfo>; backend: WasmBackend }) => {
  const { x, k } = inputs;
  const ch = x.shape[x.shape.length - 1];
  const n = x.shape.reduce((a, b) => a * b, 1);
  const out = backend.makeOutput(x.shape, 'float32');
  const [xv, kv, o] = [x, k, out].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
  const simd = ch % 4 === 0 ? simdKernels(backend) : null;
  if (simd) {
    simd.scaleShift(x, out, kv.slice(), new Float32Array(ch));
    return out;
  }
  for (let base = 0; base < n; base += ch) {
    for (let c = 0; c < ch; c++) o[base + c] = xv[base + c] * kv[c];
  }
  return out;
}) as unknown as KernelFunc;

/** Registers the kernels on wasm and reroutes FusedBatchNorm's gradient to them when they apply. Idempotent. */
export function registerBatchNormGrad(tf: Tf): void {
  for (const [kernelName, fn] of [[CHANNEL_SUMS_KERNEL, channelSums], [SCALE_CHANNELS_KERNEL, scaleChannels]] as const) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as never });
  }
  const original = tf.getGradient('FusedBatchNorm');
  if (!original || (original as unknown as { pipe?: boolean }).pipe) return;
  const config = {
    kernelName: 'FusedBatchNorm',
    inputsToSave: ['x', 'mean', 'variance', 'scale'],
    pipe: true,
    gradFunc: (dy: Tensor, saved: Tensor[], attrs: Record<string, unknown>) => {
      const [x, mean, variance, scale] = saved;
      const ch = x.shape[x.shape.length - 1];
      const fits =
        tf.getBackend() === 'wasm' && scale != null && x.dtype === 'float32' && dy.dtype === 'float32' &&
        [mean, variance, scale].every((t) => t.rank === 1 && t.shape[0] === ch && t.dtype === 'float32');
      if (!fits) return original.gradFunc(dy, saved, attrs as never);
      const eps = attrs.varianceEpsilon as number;
      // Per-channel values, computed once and shared by the five gradients (the tape asks for each
      // separately, each inside its own tidy, so they are plain arrays rather than tensors).
      let perChannel: { rstd: Float32Array; k: Float32Array } | null = null;
      const channels = () => {
        if (!perChannel) {
          const v = variance.dataSync() as Float32Array;
          const s = scale.dataSync() as Float32Array;
          const rstd = v.map((vi) => 1 / Math.sqrt(vi + eps));
          perChannel = { rstd, k: rstd.map((r, c) => r * s[c]) };
        }
        return perChannel;
      };
      let sums: Float32Array | null = null;
      const channelSumsOf = () => {
        if (!sums) {
          const t = tf.engine().runKernel(CHANNEL_SUMS_KERNEL, { dy, x, mean } as never, {}) as Tensor;
          sums = t.dataSync() as Float32Array;
          t.dispose();
        }
        return sums;
      };
      const vector = (f: (c: number) => number) => tf.tensor1d(Float32Array.from({ length: ch }, (_, c) => f(c)));
      return {
        x: () => {
          const k = tf.tensor1d(channels().k);
          const dx = tf.engine().runKernel(SCALE_CHANNELS_KERNEL, { x: dy, k } as never, {}) as Tensor;
          k.dispose();
          return dx;
        },
        mean: () => vector((c) => -channels().k[c] * channelSumsOf()[c]),
        variance: () => vector((c) => -0.5 * channels().rstd[c] ** 2 * channels().k[c] * channelSumsOf()[ch + c]),
        scale: () => vector((c) => channelSumsOf()[ch + c] * channels().rstd[c]),
        offset: () => vector((c) => channelSumsOf()[c]),
      };
    },
  };
  tf.registerGradient(config as never);
}
