// Optimizers from params, and the one operation schedules need on them: changing the learning rate.
//
// adamw is Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization"):
// before each Adam step every kernel is scaled, w ← w − lr·weightDecay·w with the step's (scheduled) rate, apart
// from the gradient, so the decay is not divided by Adam's second moment as an L2 term in the loss would be.
// Biases and batch-norm scales and offsets (the weights of rank 1) are not decayed, as PyTorch training
// recipes usually set it up (Keras's AdamW decays every weight). The Adam step is tfjs's own (or its fused wasm
// kernel, tf/wasm/adam.ts), so the optimizer's state, checkpoints and resumes are exactly adam's.
import type { Tf } from '../tf/types.js';
import type { NamedArray } from './checkpoint.js';

type Optimizer = import('@tensorflow/tfjs').Optimizer;
type Variable = import('@tensorflow/tfjs').Variable;
type NamedTensorMap = import('@tensorflow/tfjs').NamedTensorMap;
type NamedTensor = { name: string; tensor: import('@tensorflow/tfjs').Tensor };

export interface OptimizerSpec {
  name: 'adam' | 'adamw' | 'sgd' | 'rmsprop';
  learningRate: number;
  /** sgd: momentum (0 = plain SGD); rmsprop: momentum. */
  momentum?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** rmsprop: decay of the squared-gradient average. */
  rho?: number;
  /** adamw: decoupled weight decay per step, w ← w − lr·weightDecay·w on kernels (default 0.01). */
  weightDecay?: number;
}

/** adamw's default weight decay (PyTorch's and Keras's). */
export const ADAMW_WEIGHT_DECAY = 0.01;

/** Adam whose applyGradients first decays the kernels among the updated variables (see the top of this module). */
function adamW(tf: Tf, spec: OptimizerSpec): Optimizer {
  const adam = tf.train.adam(spec.learningRate, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.epsilon ?? 1e-7);
  const weightDecay = spec.weightDecay ?? ADAMW_WEIGHT_DECAY;
  const o = adam as unknown as { learningRate: number; applyGradients(grads: NamedTensorMap | NamedTensor[]): void };
  o.applyGradients = (variableGradients) => {
    const updated = Array.isArray(variableGradients)
      ? variableGradients.filter((v) => v.tensor != null).map((v) => v.name)
      : Object.keys(variableGradients).filter((name) => variableGradients[name] != null);
    const variables = tf.engine().registeredVariables;
    // The rate setLearningRate gave this step.
    const keep = 1 - o.learningRate * weightDecay;
    if (weightDecay > 0) {
      tf.tidy(() => {
        for (const name of updated) {
          const variable = variables[name];
          if (variable && variable.rank > 1) variable.assign(tf.mul(variable, tf.scalar(keep)));
        }
      });
    }
    // Looked up on each call: the wasm backend installs its fused Adam step on the prototype.
    (Object.getPrototypeOf(adam) as typeof o).applyGradients.call(adam, variableGradients);
  };
  return adam;
}

export function createOptimizer(tf: Tf, spec: OptimizerSpec): Optimizer {
  switch (spec.name) {
    case 'adam':
      return tf.train.adam(spec.learningRate, spec.beta1 ?? 0.9, spec.beta2 ?? 0.999, spec.epsilon ?? 1e-7);
    case 'adamw':
      return adamW(tf, spec);
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

/**
 * What an optimizer steps by besides its getWeights() slots: Adam's running products beta1^t and beta2^t. Its
 * setWeights recomputes them as powers, which round differently from the product, so a run resumed from a
 * checkpoint would drift away from one that was never interrupted.
 */
function stepState(optimizer: Optimizer): Record<string, Variable> {
  const o = optimizer as unknown as { accBeta1?: Variable; accBeta2?: Variable };
  return Object.fromEntries(Object.entries({ accBeta1: o.accBeta1, accBeta2: o.accBeta2 }).filter(([, v]) => v !== undefined)) as Record<string, Variable>;
}

/** The optimizer's step state (see stepState), for a checkpoint. */
export function readStepState(optimizer: Optimizer): NamedArray[] {
  return Object.entries(stepState(optimizer)).map(([name, v]) => ({ name, shape: v.shape, dtype: 'float32', data: v.dataSync() as Float32Array }));
}

/** Put back the step state a checkpoint holds; call after optimizer.setWeights, which overwrites it. */
export function restoreStepState(tf: Tf, optimizer: Optimizer, arrays: NamedArray[]): void {
  const variables = stepState(optimizer);
  for (const a of arrays) {
    const v = variables[a.name];
    if (!v) continue;
    const t = tf.tensor(a.data, a.shape, a.dtype);
    v.assign(t);
    t.dispose();
  }
}
