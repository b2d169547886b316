// Batched inference over some rows of a dataset: bounded memory (one batch of tensors at a time), and the
// numbers that validation and evaluation need (summed loss, predicted classes).
import { eventLoopTurns } from '../event-loop.js';
import type { Precision, Tf } from '../tf/backend.js';
import { setOneDnnPrecision } from '../tf/native/onednn.js';
import type { BatchBuilder } from './batches.js';
import { rowCrossEntropy, smoothedTargets } from './loss.js';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

export interface InferenceResult {
  /** Mean cross-entropy over the rows. */
  loss: number;
  accuracy: number;
  /** Predicted class per row, in the order of `rows`. */
  predicted: Uint8Array;
  /** True class per row, in the order of `rows`. */
  truth: Uint8Array;
  /** With keepProbabilities: each row's class probabilities, row after row (rows × classes). */
  probabilities?: Float32Array;
}

/**
 * Class probabilities for one batch, as validation, evaluate and `pipe predict` compute them: the whole batch in
 * one pass with the layers in inference mode (model.predict would slice it into batches of 32 and concatenate
 * the results), optionally averaged with the left-right mirror (test-time augmentation). `precision` bf16 runs
 * the convolutions and matrix products in bf16 (setOneDnnPrecision; resolved already, so available here): the
 * pass runs synchronously, so the precision holds for it alone and not for other stages' kernels between batches.
 */
export function batchProbabilities(tf: Tf, model: LayersModel, x: Tensor, options: { flip?: boolean; precision?: Precision } = {}): Tensor {
  const restore = options.precision === 'bf16' ? setOneDnnPrecision('bf16') : undefined;
  try {
    return tf.tidy(() => {
      const probabilities = model.apply(x, { training: false }) as Tensor;
      if (!options.flip) return probabilities;
      const mirrored = model.apply(tf.reverse(x, 2), { training: false }) as Tensor;
      return tf.div(tf.add(probabilities, mirrored), 2);
    });
  } finally {
    restore?.();
  }
}

export async function inferRows(
  tf: Tf,
  model: LayersModel,
  builder: BatchBuilder,
  rows: ArrayLike<number>,
  shape: [number, number, number],
  classCount: number,
  options: {
    labelSmoothing?: number;
    signal?: AbortSignal;
    onBatch?: (done: number, total: number) => void;
    /** Test-time augmentation: average the probabilities of each image and its left-right mirror. */
    flip?: boolean;
    /** Return every row's probabilities (evaluate keeps them, per image; validation does not need them). */
    keepProbabilities?: boolean;
    /** What the convolutions and matrix products multiply in (see batchProbabilities); fp32 unless told. */
    precision?: Precision;
  } = {},
): Promise<InferenceResult> {
  const predicted = new Uint8Array(rows.length);
  const truth = new Uint8Array(rows.length);
  const kept = options.keepProbabilities ? new Float32Array(rows.length * classCount) : undefined;
  let lossSum = 0;
  let correct = 0;
  const batches = builder.batchCount(rows.length);
  // Ctrl-C is seen within a batch of it.
  const turn = eventLoopTurns();
  for (let b = 0; b < batches; b++) {
    await turn();
    options.signal?.throwIfAborted();
    const batch = builder.build(rows, b);
    const targets = smoothedTargets(batch.labels, classCount, options.labelSmoothing ?? 0);
    const [lossT, predT, probT] = tf.tidy(() => {
      const probabilities = batchProbabilities(tf, model, tf.tensor4d(batch.x, [batch.size, ...shape]), { flip: options.flip, precision: options.precision });
      const loss = tf.sum(rowCrossEntropy(tf, probabilities, tf.tensor2d(targets, [batch.size, classCount])));
      return [loss, tf.argMax(probabilities, -1), ...(kept ? [probabilities] : [])];
    });
    const [lossData, predData] = await Promise.all([lossT.data(), predT.data()]);
    if (probT) {
      kept!.set(await probT.data(), b * builder.batchSize * classCount);
      probT.dispose();
    }
    tf.dispose([lossT, predT]);
    lossSum += lossData[0];
    const offset = b * builder.batchSize;
    for (let j = 0; j < batch.size; j++) {
      predicted[offset + j] = predData[j];
      truth[offset + j] = batch.labels[j];
      if (predData[j] === batch.labels[j]) correct++;
    }
    options.onBatch?.(b + 1, batches);
  }
  const n = rows.length;
  return { loss: n ? lossSum / n : NaN, accuracy: n ? correct / n : NaN, predicted, truth, ...(kept ? { probabilities: kept } : {}) };
}
