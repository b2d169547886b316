// The one forward and backward pass of a training step, the same for one replica in the training thread and for
// each of N replicas in their threads (step.ts, replica-thread.ts): weighted cross-entropy plus the layers'
// regularisers, and its gradients. A replica's rows are a slice of the batch and its loss their mean, so the
// gradients averaged by rows (replicas.ts) are the gradient of the whole batch's loss.
import type { LayersModel, NamedTensorMap, Scalar, Tensor, Variable } from '@tensorflow/tfjs';
import { rowCrossEntropy } from '../model/loss.js';
import type { Tf } from '../tf/types.js';

/** Rows of a batch: size × h × w × c floats and their class indices. */
export interface StepRows {
  x: Float32Array;
  labels: ArrayLike<number>;
  size: number;
}

export interface StepResult {
  /** Mean loss over the rows, regularisers included (before the update). */
  loss: number;
  /** Rows classified right (argmax against the label, before the update). */
  correct: number;
}

export interface TrainStep {
  readonly replicas: number;
  /**
   * One step: `targets` rows × classes (label smoothing in them), `sampleWeights` one per row or null,
   * `dropoutSeeds` one per Dropout layer.
   */
  run(batch: StepRows, targets: Float32Array, sampleWeights: Float32Array | null, dropoutSeeds: number[]): Promise<StepResult>;
  /** Stops the replicas' threads. The model stays usable. */
  dispose(): Promise<void>;
}

/** One replica's share of a step, as plain arrays that can cross a thread boundary. */
export interface ReplicaGradients extends StepResult {
  /** Rows in this share. */
  n: number;
  /** d(loss)/d(weight), one per trainable weight, in model.trainableWeights order. */
  grads: Float32Array[];
  /** Values of the non-trainable weights after the pass (batch-norm moving statistics), in nonTrainableWeights order. */
  nonTrainable: Float32Array[];
}

/**
 * A fresh dropout mask per step, reproducible from the seeds (one per Dropout layer, model order): a fixed layer
 * seed would repeat one mask on every call.
 */
export function reseedDropout(model: LayersModel, seeds: number[]): void {
  const dropouts = model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number }>;
  dropouts.forEach((layer, j) => (layer.seed = seeds[j]));
}

/**
 * The loss, the rows classified right and the gradients of the trainable `variables`, on `rows` with `targets`
 * (rows × classes, label smoothing already in them) and optional per-row weights. Call inside tf.tidy; `correct`
 * is kept out of it, for the caller to free.
 */
export function lossAndGradients(
  tf: Tf,
  model: LayersModel,
  variables: Variable[],
  rows: StepRows,
  targets: Float32Array,
  sampleWeights: Float32Array | null,
): { value: Scalar; correct: Tensor; grads: NamedTensorMap } {
  const shape = model.inputs[0].shape.slice(1) as number[];
  const x = tf.tensor4d(rows.x, [rows.size, ...(shape as [number, number, number])]);
  const y = tf.tensor2d(targets, [rows.size, targets.length / rows.size]);
  const labels = tf.tensor1d(Int32Array.from(rows.labels), 'int32');
  const w = sampleWeights ? tf.tensor1d(sampleWeights) : null;
  let correct: Tensor | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const probabilities = model.apply(x, { training: true }) as Tensor;
    correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probabilities, -1), labels), 'int32')));
    const perRow = rowCrossEntropy(tf, probabilities, y);
    // Keras semantics: weighted rows averaged over the batch size (not over the weight sum).
    let loss = tf.mean(w ? tf.mul(perRow, w) : perRow);
    for (const regulariser of model.calculateLosses()) loss = tf.add(loss, regulariser);
    return loss as Scalar;
  }, variables);
  return { value, correct: correct!, grads };
}

/** The model's trainable weights as the variables gradients are taken of. */
export function trainableVariables(model: LayersModel): Variable[] {
  return model.trainableWeights.map((w) => w.read() as Variable);
}

/** lossAndGradients on one replica's rows, read out as arrays (the weights are not touched). */
export function replicaGradients(tf: Tf, model: LayersModel, rows: StepRows, targets: Float32Array, sampleWeights: Float32Array | null): ReplicaGradients {
  const variables = trainableVariables(model);
  let out: ReplicaGradients | undefined;
  tf.tidy(() => {
    const { value, correct, grads } = lossAndGradients(tf, model, variables, rows, targets, sampleWeights);
    out = {
      n: rows.size,
      loss: value.dataSync()[0],
      correct: correct.dataSync()[0],
      grads: variables.map((v) => grads[v.name].dataSync().slice() as Float32Array),
      nonTrainable: model.nonTrainableWeights.map((w) => (w.read() as Tensor).dataSync().slice() as Float32Array),
    };
    correct.dispose();
  });
  return out!;
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
