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
 * Which views of each image inference averages (test-time augmentation). 'flip': the image and its left-right
 * mirror. 'flip-shift': those two, each also moved by `testTimeShift(width)` pixels left, right, up and down with
 * the edge pixels repeated (ten views), as training's shift augmentation moves them.
 */
export type TestTimeAugmentation = 'none' | 'flip' | 'flip-shift';

/** The pixels 'flip-shift' moves an image by: a twentieth of its width, at least one (2 at FER2013's 48). */
export function testTimeShift(width: number): number {
  return Math.max(1, Math.round(width / 20));
}

/**
 * Class probabilities for one batch, as validation, evaluate and `pipe predict` compute them: the whole batch in
 * one pass with the layers in inference mode (model.predict would slice it into batches of 32 and concatenate
 * the results), optionally averaged over the views `tta` names. `precision` bf16 runs
 * the convolutions and matrix products in bf16 (setOneDnnPrecision; resolved already, so available here): the
 * pass runs synchronously, so the precision holds for it alone and not for other stages' kernels between batches.
 */
export function batchProbabilities(
  tf: Tf,
  model: LayersModel,
  x: Tensor,
  options: { tta?: TestTimeAugmentation; precision?: Precision } = {},
): Tensor {
  const restore = options.precision === 'bf16' ? setOneDnnPrecision('bf16') : undefined;
  try {
    return tf.tidy(() => {
      const tta = options.tta ?? 'none';
      const probabilities = model.apply(x, { training: false }) as Tensor;
      if (tta === 'none') return probabilities;
      const images = [x, tf.reverse(x, 2)];
      const views = tta === 'flip' ? images.slice(1) : [images[1], ...images.flatMap((image) => shiftedViews(tf, image))];
      const sum = views.reduce((acc, view) => tf.add(acc, model.apply(view, { training: false }) as Tensor), probabilities);
      return tf.div(sum, views.length + 1);
    });
  } finally {
    restore?.();
  }
}

/** `x` ([n, h, w, c]) moved by testTimeShift(w) pixels each way along each axis, edge pixels repeated (a gather of clamped indices). */
function shiftedViews(tf: Tf, x: Tensor): Tensor[] {
  const [, h, w] = x.shape as number[];
  const s = testTimeShift(w);
  const moved = (size: number, by: number, axis: number) =>
    tf.gather(x, tf.tensor1d(Array.from({ length: size }, (_, i) => Math.min(Math.max(i - by, 0), size - 1)), 'int32'), axis);
  return [moved(w, s, 2), moved(w, -s, 2), moved(h, s, 1), moved(h, -s, 1)];
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
    /** Test-time augmentation: the views of each image whose probabilities are averaged. */
    tta?: TestTimeAugmentation;
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
      const probabilities = batchProbabilities(tf, model, tf.tensor4d(batch.x, [batch.size, ...shape]), { tta: options.tta, precision: options.precision });
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
