// Batch normalisation in training mode on wasm as one op with one gradient.
//
// tfjs-layers normalises a training batch with tf.moments (a cast, two means, a subtract and a square,
// each a full pass over the activations, several with copies) and lets the tape differentiate through
// all of them: about twenty full-size passes per layer and step, a fifth of the paper CNN's step. The
// closed form needs three: one for the batch statistics, one for the two per-channel sums of the
// gradient, one for dx:
//   x̂ = (x − μ)·r,  r = 1/√(σ² + ε),  y = γ·x̂ + β
//   dβ = Σdy,  dγ = r·Σdy·(x − μ),  dx = γr·(dy − Σdy/n − (x − μ)·r²·Σdy·(x − μ)/n)
// installTrainingBatchNorm() makes BatchNormalization layers take this path when training on wasm with
// channels last, both γ and β, and float32 input; everything else, inference included, runs the layer's
// own code. The moving mean and variance are updated exactly as the layer does.
import type { Tf } from './backend.js';
import { CHANNEL_SUMS_KERNEL } from './wasm-batchnorm-grad.js';
import type { KernelFunc, WasmBackend } from './wasm-fast-reductions.js';
import { simdKernels } from './wasm-simd.js';

type TensorInfo = { dataId: object; shape: number[]; dtype: string };
type Tensor = ReturnType<Tf['tensor']>;

export const CHANNEL_MOMENTS_KERNEL = 'PipeChannelMoments';
export const BATCHNORM_INPUT_GRAD_KERNEL = 'PipeBatchNormInputGrad';
export const SCALE_SHIFT_KERNEL = 'PipeScaleShift';

function channelsAndRows(shape: number[]): { ch: number; rows: number } {
  const ch = shape[shape.length - 1];
  return { ch, rows: ch === 0 ? 0 : shape.reduce((a, b) => a * b, 1) / ch };
}

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

interface BatchNormLayer {
  axis: number;
  epsilon: number;
  momentum: number;
  gamma: { read(): Tensor } | null;
  beta: { read(): Tensor } | null;
  movingMean: { read(): Tensor; write(t: Tensor): void };
  movingVariance: { read(): Tensor; write(t: Tensor): void };
}

/** The batch-normalised x and the batch's per-channel mean and variance (plain arrays). */
function normaliseTrainingBatch(tf: Tf, x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): { y: Tensor; mean: Float32Array; variance: Float32Array } {
  const ch = x.shape[x.shape.length - 1];
  let mean = new Float32Array(ch);
  let variance = new Float32Array(ch);
  const op = tf.customGrad((xIn, gammaIn, betaIn, save) => {
    const xt = xIn as Tensor;
    const moments = tf.engine().runKernel(CHANNEL_MOMENTS_KERNEL, { x: xt } as never, {}) as Tensor;
    const m = moments.dataSync() as Float32Array;
    moments.dispose();
    mean = m.slice(0, ch);
    variance = m.slice(ch);
    const mu = mean;
    const rstd = variance.map((v) => 1 / Math.sqrt(v + epsilon));
    // y = γ·(x − μ)·r + β = k·x + (β − k·μ), k = γ·r.
    const g = (gammaIn as Tensor).dataSync() as Float32Array;
    const b = (betaIn as Tensor).dataSync() as Float32Array;
    const coeffs = new Float32Array(2 * ch);
    for (let c = 0; c < ch; c++) {
      coeffs[c] = g[c] * rstd[c];
      coeffs[ch + c] = b[c] - coeffs[c] * mu[c];
    }
    const coeffsT = tf.tensor2d(coeffs, [2, ch]);
    const y = tf.engine().runKernel(SCALE_SHIFT_KERNEL, { x: xt, coeffs: coeffsT } as never, {}) as Tensor;
    coeffsT.dispose();
    (save as (t: Tensor[]) => void)([xt, gammaIn as Tensor]);
    return {
      value: y,
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [xs, gammaSaved] = saved;
        const dyt = dy as Tensor;
        const muT = tf.tensor1d(mu);
        const sumsT = tf.engine().runKernel(CHANNEL_SUMS_KERNEL, { dy: dyt, x: xs, mean: muT } as never, {}) as Tensor;
        const sums = sumsT.dataSync() as Float32Array;
        const g = gammaSaved.dataSync() as Float32Array;
        tf.dispose([muT, sumsT]);
        const n = xs.size / ch;
        const coeffs = new Float32Array(4 * ch);
        const dGamma = new Float32Array(ch);
        const dBeta = new Float32Array(ch);
        for (let c = 0; c < ch; c++) {
          const sumDy = sums[c];
          const sumDyXm = sums[ch + c];
          coeffs[c] = mu[c];
          coeffs[ch + c] = g[c] * rstd[c];
          coeffs[2 * ch + c] = sumDy / n;
          coeffs[3 * ch + c] = (rstd[c] * rstd[c] * sumDyXm) / n;
          dGamma[c] = sumDyXm * rstd[c];
          dBeta[c] = sumDy;
        }
        const coeffsT = tf.tensor2d(coeffs, [4, ch]);
        const dx = tf.engine().runKernel(BATCHNORM_INPUT_GRAD_KERNEL, { dy: dyt, x: xs, coeffs: coeffsT } as never, {}) as Tensor;
        coeffsT.dispose();
        return [dx, tf.tensor1d(dGamma), tf.tensor1d(dBeta)];
      },
    };
  });
  const y = op(x, gamma, beta) as Tensor;
  return { y, mean, variance };
}

const PATCHED = Symbol.for('pipe.trainingBatchNorm');

/** Registers the kernels and routes BatchNormalization's training path through them on wasm. Idempotent. */
export function installTrainingBatchNorm(tf: Tf): void {
  for (const [kernelName, fn] of [[CHANNEL_MOMENTS_KERNEL, channelMoments], [BATCHNORM_INPUT_GRAD_KERNEL, inputGrad], [SCALE_SHIFT_KERNEL, scaleShift]] as const) {
    if (!tf.getKernel(kernelName, 'wasm')) tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: fn as never });
  }
  // The layer class, as tfjs-layers registers it for deserialisation.
  const proto = Object.getPrototypeOf(tf.layers.batchNormalization({})) as Record<PropertyKey, unknown>;
  if (proto[PATCHED]) return;
  const original = proto.call as (this: BatchNormLayer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>) => Tensor;
  proto[PATCHED] = true;
  proto.call = function (this: BatchNormLayer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor {
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const fits =
      kwargs?.training === true && input !== undefined && tf.getBackend() === 'wasm' && input.dtype === 'float32' && input.rank >= 2 &&
      (this.axis === -1 || this.axis === input.rank - 1) && this.gamma != null && this.beta != null;
    if (!fits) return original.call(this, inputs, kwargs);
    return tf.tidy(() => {
      const { y, mean, variance } = normaliseTrainingBatch(tf, input, this.gamma!.read(), this.beta!.read(), this.epsilon);
      // As the layer itself does: moving ← moving − (moving − batch)·(1 − momentum).
      for (const [variable, value] of [[this.movingMean, mean], [this.movingVariance, variance]] as const) {
        tf.tidy(() => {
          const current = variable.read();
          variable.write(tf.sub(current, tf.mul(tf.sub(current, tf.tensor1d(value)), 1 - this.momentum)));
        });
      }
      return y;
    });
  };
}
