// Categorical cross-entropy on softmax outputs, as Keras computes it: probabilities clipped to [ε, 1 − ε],
// targets optionally smoothed towards the uniform distribution, optional per-row weights, mean over the batch.
import type { Tf } from '../tf/backend.js';

type Tensor = import('@tensorflow/tfjs').Tensor;

export const PROBABILITY_EPSILON = 1e-7;

/** One-hot targets smoothed by `smoothing`: (1 − s)·onehot + s/K. */
export function smoothedTargets(labels: ArrayLike<number>, classCount: number, smoothing: number): Float32Array {
  const y = new Float32Array(labels.length * classCount).fill(smoothing / classCount);
  for (let i = 0; i < labels.length; i++) y[i * classCount + labels[i]] += 1 - smoothing;
  return y;
}

/** Per-row cross-entropy [n] of probabilities [n, K] against targets [n, K]. */
export function rowCrossEntropy(tf: Tf, probabilities: Tensor, targets: Tensor): Tensor {
  const p = tf.clipByValue(probabilities, PROBABILITY_EPSILON, 1 - PROBABILITY_EPSILON);
  return tf.neg(tf.sum(tf.mul(targets, tf.log(p)), -1));
}
