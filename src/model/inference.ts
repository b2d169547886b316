// Batched inference over some rows of a dataset: bounded memory (one batch of tensors at a time), and the
// numbers that validation and evaluation need (summed loss, predicted classes).
import type { Tf } from '../tf/backend.js';
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
  } = {},
): Promise<InferenceResult> {
  const predicted = new Uint8Array(rows.length);
  const truth = new Uint8Array(rows.length);
  let lossSum = 0;
  let correct = 0;
  const batches = builder.batchCount(rows.length);
  for (let b = 0; b < batches; b++) {
    options.signal?.throwIfAborted();
    const batch = builder.build(rows, b);
    const targets = smoothedTargets(batch.labels, classCount, options.labelSmoothing ?? 0);
    const [lossT, predT] = tf.tidy(() => {
      const x = tf.tensor4d(batch.x, [batch.size, ...shape]);
      let probabilities = model.apply(x, { training: false }) as Tensor;
      if (options.flip) {
        const mirrored = model.apply(tf.reverse(x, 2), { training: false }) as Tensor;
        probabilities = tf.div(tf.add(probabilities, mirrored), 2);
      }
      const loss = tf.sum(rowCrossEntropy(tf, probabilities, tf.tensor2d(targets, [batch.size, classCount])));
      return [loss, tf.argMax(probabilities, -1)];
    });
    const [lossData, predData] = await Promise.all([lossT.data(), predT.data()]);
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
  return { loss: n ? lossSum / n : NaN, accuracy: n ? correct / n : NaN, predicted, truth };
}
