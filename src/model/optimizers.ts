// Optimizers from params, and the one operation schedules need on them: changing the learning rate.
import type { Tf } from '../tf/backend.js';

type Optimizer = import('@tensorflow/tfjs').Optimizer;

export interface OptimizerSpec {
  name: 'adam' | 'sgd' | 'rmsprop';
  learningRate: number;
  /** sgd: momentum (0 = plain SGD); rmsprop: momentum. */
  momentum?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** rmsprop: decay of the squared-gradient average. */
  rho?: number;
}

export function createOptimizer(tf: Tf, spec: OptimizerSpec): Optimizer {
  switch (spec.name) {
    case 'adam':
      return tf.train.adam(spec.learningRate, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.epsilon ?? 1e-7);
    case 'sgd':
      return spec.momentum ? tf.train.momentum(spec.learningRate, spec.momentum) : tf.train.sgd(spec.learningRate);
    case 'rmsprop':
      return tf.train.rmsprop(spec.learningRate, spec.rho ?? 0.9, spec.momentum ?? 0, spec.epsilon ?? 1e-7);
  }
}

/** Set the rate used by the next applyGradients (SGD keeps a cached scalar that must be rebuilt). */
export function setLearningRate(optimizer: Optimizer, lr: number): void {
  const o = optimizer as unknown as { learningRate: number; setLearningRate?: (lr: number) => void };
  if (typeof o.setLearningRate === 'function') o.setLearningRate(lr);
  else o.learningRate = lr;
}
