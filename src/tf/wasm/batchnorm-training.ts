// Batch normalisation in training mode on wasm as one op with one gradient.
//
// tfjs-layers normalises a training batch with tf.moments (a cast, two means, a subtract and a square,
// each a full pass over the activations, several with copies) and lets the tape differentiate through
// all of them: about twenty full-size passes per layer and step, a fifth of the paper CNN's step. Here the
// forward is one kernel (the batch statistics and y) and the gradient another (dx, dγ, dβ in closed form):
// wasm/channel-kernels.ts has both, in a few SIMD passes; where oneDNN loads they run as its primitives
// (native/kernels.ts).
// installTrainingBatchNorm() makes BatchNormalization layers take this path when training on wasm with
// channels last, both γ and β, and float32 input; everything else, inference included, runs the layer's
// own code. The moving mean and variance are updated exactly as the layer does.
import { BATCHNORM_TRAINING_GRAD_KERNEL, BATCHNORM_TRAINING_KERNEL, type Tf } from '../types.js';

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
  let stats: Float32Array = new Float32Array(2 * ch);
  const op = tf.customGrad((xIn, gammaIn, betaIn, save) => {
    const [y, statsT] = tf.engine().runKernel(BATCHNORM_TRAINING_KERNEL, { x: xIn, gamma: gammaIn, beta: betaIn } as never, { epsilon } as never) as Tensor[];
    stats = statsT.dataSync() as Float32Array;
    (save as (t: Tensor[]) => void)([xIn as Tensor, gammaIn as Tensor, statsT]);
    return {
      value: y,
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [xs, gammaSaved, statsSaved] = saved;
        return tf.engine().runKernel(BATCHNORM_TRAINING_GRAD_KERNEL, { dy, x: xs, stats: statsSaved, gamma: gammaSaved } as never, { epsilon } as never) as Tensor[];
      },
    };
  });
  const y = op(x, gamma, beta) as Tensor;
  return { y, mean: stats.slice(0, ch), variance: stats.slice(ch) };
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
