// A two-pass batch-norm gradient for the wasm backend.
//
// tfjs-core's FusedBatchNorm gradient builds each of its five outputs from separate full-size ops
// (sub, several muls, a tile, four reductions): about a dozen passes over every activation. All five
// need only two per-channel sums, Σdy and Σdy·(x−mean), plus one scaled copy of dy for dx, so on wasm
// two channel kernels (wasm/channel-kernels.ts) do it in two passes and the registered gradient routes to them. On
// other backends, and for shapes they do not cover, the original gradient runs unchanged.
import type { Tf } from '../types.js';
import { CHANNEL_SUMS_KERNEL, SCALE_SHIFT_KERNEL } from './channel-kernels.js';

type Tensor = ReturnType<Tf['tensor']>;

/** Reroutes FusedBatchNorm's gradient to the channel kernels when they apply (register those first). Idempotent. */
export function registerBatchNormGrad(tf: Tf): void {
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
          // dx = k·dy: the scale-and-shift kernel with no shift.
          const coeffs = new Float32Array(2 * ch);
          coeffs.set(channels().k);
          const coeffsT = tf.tensor2d(coeffs, [2, ch]);
          const dx = tf.engine().runKernel(SCALE_SHIFT_KERNEL, { x: dy, coeffs: coeffsT } as never, {}) as Tensor;
          coeffsT.dispose();
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
