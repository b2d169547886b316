// One model replica's share of a data-parallel training step: forward + backward on a shard of the
// batch, returning plain typed arrays (gradients, updated non-trainable weights such as batch-norm
// moving statistics) so the result can cross a worker boundary. Used in-process and in workers.
import type { LayersModel, Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import type { Tf } from './backend.js';

export type LossName = 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy';

export interface ShardResult {
  /** Rows in this shard. */
  n: number;
  /** Mean loss over the shard. */
  loss: number;
  /** Correctly classified rows (argmax). */
  correct: number;
  /** d(mean shard loss)/d(weight), one per trainable weight, in model.trainableWeights order. */
  grads: Float32Array[];
  /** Values of the non-trainable weights after the step, in nonTrainableWeights order. */
  nonTrainable: Float32Array[];
}

/** Builds [n, ...inputShape] inputs and one-hot [n, classes] targets from flat arrays. */
export function batchTensors(tf: Tf, model: LayersModel, x: Float32Array, y: Float32Array | Int32Array, n: number): { xs: Tensor; ys: Tensor } {
  const inShape = model.inputs[0].shape.slice(1) as number[];
  const classes = model.outputs[0].shape[model.outputs[0].shape.length - 1] as number;
  const xs = tf.tensor(x, [n, ...inShape]);
  let ys: Tensor;
  if (y.length === n) ys = tf.tidy(() => tf.oneHot(tf.tensor1d(Int32Array.from(y), 'int32'), classes).toFloat());
  else if (y.length === n * classes) ys = tf.tensor2d(y instanceof Float32Array ? y : Float32Array.from(y), [n, classes]);
  else throw new Error(`targets have ${y.length} values; expected ${n} labels or ${n}x${classes} one-hot rows`);
  return { xs, ys };
}

/** Forward + backward on one shard; touches no weights except through the layers' own updates. */
export function computeShard(tf: Tf, model: LayersModel, xs: Tensor, ys: Tensor, loss: LossName): ShardResult {
  const n = xs.shape[0];
  const vars = model.trainableWeights.map((w) => w.read() as Variable);
  let correctT: Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const probs = model.apply(xs, { training: true }) as Tensor;
    correctT = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(ys, -1)), 'float32')));
    // Both names share one formula here: targets are one-hot by the time they reach us.
    void loss;
    return tf.mean(tf.metrics.categoricalCrossentropy(ys, probs)) as Scalar;
  }, vars);
  const out: ShardResult = {
    n,
    loss: value.dataSync()[0],
    correct: (correctT as unknown as Tensor).dataSync()[0],
    grads: vars.map((v) => grads[v.name].dataSync().slice() as Float32Array),
    nonTrainable: model.nonTrainableWeights.map((w) => (w.read() as Tensor).dataSync().slice() as Float32Array),
  };
  tf.dispose([value, correctT as unknown as Tensor, ...Object.values(grads)]);
  return out;
}

/** Overwrites every weight of the model (model.weights order) with the given values. */
export function assignWeights(tf: Tf, model: LayersModel, values: Float32Array[]): void {
  const weights = model.weights;
  if (values.length !== weights.length) throw new Error(`expected ${weights.length} weight arrays, got ${values.length}`);
  weights.forEach((w, i) => {
    const t = tf.tensor(values[i], w.shape as number[]);
    (w.read() as Variable).assign(t);
    t.dispose();
  });
}

/** Every weight's values, in model.weights order (copies, safe to transfer). */
export function readWeights(model: LayersModel): Float32Array[] {
  return model.weights.map((w) => (w.read() as Tensor).dataSync().slice() as Float32Array);
}
