// Batch normalisation in training mode on wasm as one op with one gradient.
//
// tfjs-layers normalises a training batch with tf.moments (a cast, two means, a subtract and a square,
// each a full pass over the activations, several with copies) and lets the tape differentiate through
// all of them: about twenty full-size passes per layer and step, a fifth of the paper CNN's step. The
// closed form needs five, all channel kernels (wasm-channel-kernels.ts): two for the batch statistics, one
// for y, one for the two per-channel sums of the gradient, one for dx:
//   x̂ = (x − μ)·r,  r = 1/√(σ² + ε),  y = γ·x̂ + β
//   dβ = Σdy,  dγ = r·Σdy·(x − μ),  dx = γr·(dy − Σdy/n − (x − μ)·r²·Σdy·(x − μ)/n)
// installTrainingBatchNorm() makes BatchNormalization layers take this path when training on wasm with
// channels last, both γ and β, and float32 input; everything else, inference included, runs the layer's
// own code. The moving mean and variance are updated exactly as the layer does.
import type { Tf } from './backend.js';
import { BATCHNORM_INPUT_GRAD_KERNEL, CHANNEL_MOMENTS_KERNEL, CHANNEL_SUMS_KERNEL, SCALE_SHIFT_KERNEL } from './wasm-channel-kernels.js';

type Tensor = ReturnType<Tf['tensor']>;

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

/** Routes BatchNormalization's training path through the channel kernels on wasm (register those first). Idempotent. */
export function installTrainingBatchNorm(tf: Tf): void {
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
