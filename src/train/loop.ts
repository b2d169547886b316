// The training loop: epochs of seeded shuffled batches, one optimiser step per batch, validation, learning-rate
// schedule, early stopping, and a checkpoint after every epoch so that a killed run resumes.
//
// The loop owns everything but the step itself (step.ts: on one replica or on several, the same pass).
import { formatDuration } from '../duration.js';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { PipeError } from '../errors.js';
import { eventLoopTurns } from '../event-loop.js';
import type { ImageDataset } from '../data/image-dataset.js';
import type { NormaliseTransform } from '../data/normalisation.js';
import { createRandom } from '../data/random.js';
import type { Tf } from '../tf/types.js';
import type { AugmentSpec } from '../model/augment.js';
import { BatchBuilder } from '../model/batches.js';
import { inferRows } from '../model/inference.js';
import { smoothedTargets } from '../model/loss.js';
import { loadCheckpoint, saveCheckpoint, type NamedArray } from './checkpoint.js';
import { afterEpoch, initialScheduleState, learningRateFor, type ScheduleSpec, type ScheduleState } from './lr-schedule.js';
import { createOptimizer, readStepState, restoreStepState, setLearningRate, type OptimizerSpec } from './optimizers.js';
import { createStep } from './step.js';
import type { OneDnnPrecision } from '../tf/native/onednn.js';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type Tensor = import('@tensorflow/tfjs').Tensor;

export interface EarlyStoppingSpec {
  monitor: 'val_loss' | 'val_accuracy';
  /** Epochs without improvement before stopping; 0 never stops (only tracks the best epoch). */
  patience: number;
  /** At the end, put back the weights of the best epoch. */
  restoreBest: boolean;
}

export interface TrainOptions {
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  labelSmoothing: number;
  batchSize: number;
  epochs: number;
  /** Weight per class index, or null. */
  classWeights: number[] | null;
  earlyStopping?: EarlyStoppingSpec;
  augment?: AugmentSpec;
  /** Replicas that share each batch, each in its own thread; 1 trains in this thread. */
  replicas: number;
  /**
   * What the training steps' convolutions and matrix products multiply in (oneDNN: see setOneDnnPrecision);
   * fp32 unless told. Validation runs in fp32 either way.
   */
  precision?: OneDnnPrecision;
  /**
   * Wall-clock seconds of training (over resumed runs too) after which the epoch in progress ends at the next
   * batch, is validated like any other, and training stops.
   */
  timeBudgetSeconds?: number;
}

export interface EpochRecord {
  /** 1-based, as Keras prints it. */
  epoch: number;
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
  lr: number;
  seconds: number;
  imagesPerSecond: number;
  /** The time budget ran out during this epoch: it saw only part of the training split. */
  partial?: boolean;
}

export interface TrainResult {
  history: EpochRecord[];
  /** 1-based epoch whose weights the final model holds when restoring the best, else the best by the monitor. */
  bestEpoch: number | null;
  monitor: string;
  stoppedEarly: boolean;
  /** The time budget ended training. */
  stoppedOnTime: boolean;
  /** Seconds spent training, over resumed runs too. */
  trainingSeconds: number;
  resumedFromEpoch: number | null;
  restoredBest: boolean;
}

export interface TrainContext {
  tf: Tf;
  model: LayersModel;
  dataset: ImageDataset;
  transform: NormaliseTransform;
  trainRows: Uint32Array;
  /** Empty: no validation. */
  validationRows: Uint32Array;
  seed: number;
  scratchDir: string;
  signal: AbortSignal;
  log: Logger;
  progress: { update(message: string): void; note?(message: string): void };
  /** Identifies the stage instance; a checkpoint with another fingerprint is ignored. */
  fingerprint: string;
  /** Milliseconds on a monotonic clock (performance.now unless a test drives time itself). */
  now?: () => number;
}

/** What a checkpoint stores besides the arrays. */
interface TrainState {
  fingerprint: string;
  /** Epochs finished. */
  epoch: number;
  history: EpochRecord[];
  schedule: ScheduleState;
  best: { value: number; epoch: number } | null;
  /** Epochs since the monitored value last improved. */
  wait: number;
  stoppedEarly: boolean;
  /** Absent in checkpoints written before the time budget existed. */
  stoppedOnTime?: boolean;
  /** Seconds spent training in earlier runs of this instance, up to the checkpoint. */
  trainingSeconds?: number;
  /**
   * A checkpoint is taken between epochs, and each epoch's random streams (shuffle order, augmentation,
   * dropout seeds) are derived from (seed, purpose, epoch): the epoch count is the whole RNG state, and a
   * resumed run draws what an uninterrupted one draws. Recorded for inspection.
   */
  rng: { seed: number; nextEpoch: number };
}

// Purposes of the random streams (arbitrary distinct numbers).
const SHUFFLE = 1;
const AUGMENT = 2;
const DROPOUT = 3;

function arraysOf(tensors: Tensor[], names?: string[]): NamedArray[] {
  return tensors.map((t, i) => ({
    name: names?.[i] ?? `w${i}`,
    shape: t.shape,
    dtype: t.dtype === 'int32' ? 'int32' : 'float32',
    data: t.dataSync() as Float32Array | Int32Array,
  }));
}

function setModelWeights(tf: Tf, model: LayersModel, arrays: NamedArray[]): void {
  const tensors = arrays.map((a) => tf.tensor(a.data, a.shape, a.dtype));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

function interrupted(epoch: number, where: string, checkpointEpoch: number): PipeError {
  return new PipeError(
    `training interrupted at epoch ${epoch + 1}, ${where}` +
      (checkpointEpoch > 0 ? `; the checkpoint after epoch ${checkpointEpoch} is kept and the next run resumes from it` : ''),
    { exitCode: 130 },
  );
}

/** A stable digest of what determines a training run, for telling whether a checkpoint belongs to it. */
export function trainFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

export async function train(ctx: TrainContext, options: TrainOptions): Promise<TrainResult> {
  const { tf, model, dataset: ds } = ctx;
  const shape = ds.shape;
  const classCount = ds.classes.length;
  const hasValidation = ctx.validationRows.length > 0;
  const monitor = options.earlyStopping?.monitor ?? 'val_loss';
  // Without validation, the same quantity on the training data stands in.
  const monitorKey = hasValidation ? monitor : monitor === 'val_loss' ? 'loss' : 'accuracy';
  const higherIsBetter = monitorKey.endsWith('accuracy');
  const optimizer = createOptimizer(tf, options.optimizer);
  const builder = new BatchBuilder(ds, ctx.transform, options.batchSize);
  const step = await createStep(tf, model, optimizer, options.replicas, options.precision);
  const dropoutCount = model.layers.filter((l) => l.getClassName() === 'Dropout').length;
  const batchesPerEpoch = builder.batchCount(ctx.trainRows.length);

  let state: TrainState = {
    fingerprint: ctx.fingerprint,
    epoch: 0,
    history: [],
    schedule: initialScheduleState(options.optimizer.learningRate),
    best: null,
    wait: 0,
    stoppedEarly: false,
    stoppedOnTime: false,
    trainingSeconds: 0,
    rng: { seed: ctx.seed, nextEpoch: 0 },
  };
  let bestWeights: NamedArray[] | null = null;
  let resumedFromEpoch: number | null = null;

  const damaged: string[] = [];
  const checkpoint = await loadCheckpoint<TrainState>(ctx.scratchDir, ({ epoch, reason }) =>
    damaged.push(`the checkpoint after epoch ${epoch} is damaged (${reason}) and was discarded`),
  );
  if (damaged.length) {
    const next = checkpoint ? `resuming from the checkpoint after epoch ${checkpoint.epoch}` : 'starting over from epoch 1';
    ctx.log.warn(`${damaged.join('; ')}; ${next}`);
  }
  if (checkpoint && checkpoint.state.fingerprint === ctx.fingerprint) {
    state = checkpoint.state;
    setModelWeights(tf, model, checkpoint.bundles.model);
    const slots = checkpoint.bundles.optimizer.map((a) => ({ name: a.name, tensor: tf.tensor(a.data, a.shape, a.dtype) }));
    await optimizer.setWeights(slots);
    // setWeights makes variables of the slot tensors (copies); the tensors themselves are ours to free.
    tf.dispose(slots.map((s) => s.tensor));
    // Absent from checkpoints written before it was kept: setWeights' approximation stands then.
    restoreStepState(tf, optimizer, checkpoint.bundles.optimizerStep ?? []);
    bestWeights = checkpoint.bundles.best?.length ? checkpoint.bundles.best : null;
    resumedFromEpoch = state.epoch;
    ctx.log.info(`resuming from epoch ${state.epoch} (checkpoint in the scratch directory)`);
    ctx.progress.note?.(`resuming from the checkpoint after epoch ${state.epoch} of ${options.epochs}`);
  } else if (checkpoint) {
    ctx.log.info('ignoring a checkpoint left by a different training configuration');
  }
  if (!hasValidation) ctx.log.info(`without validation, early stopping and the schedule watch the training ${monitorKey}`);

  const now = ctx.now ?? (() => performance.now());
  const budget = options.timeBudgetSeconds;
  const secondsBefore = state.trainingSeconds ?? 0;
  let lastProgress = 0;
  const runStarted = now();
  /** Training seconds so far, this run and the runs before it. */
  const spent = () => secondsBefore + (now() - runStarted) / 1000;
  let batchesThisRun = 0;
  /**
   * The epochs the schedule spreads over. With a time budget that cannot fit `epochs`, it is the number the clock
   * allows at the mean epoch time so far, so a cosine schedule reaches its low rate by the deadline on any machine
   * instead of being cut off half-way down.
   */
  const scheduleLength = (epoch: number): number => {
    if (budget === undefined || epoch === 0) return options.epochs;
    const meanEpochSeconds = spent() / epoch;
    return Math.min(options.epochs, epoch + Math.max(1, (budget - spent()) / meanEpochSeconds));
  };
  const order = new Uint32Array(ctx.trainRows.length);
  // Ctrl-C is seen within a batch of it, not at the end of the epoch.
  const turn = eventLoopTurns();
  const sampleWeights = options.classWeights ? new Float32Array(options.batchSize) : null;

  try {
    for (let epoch = state.epoch; epoch < options.epochs && !state.stoppedEarly && !state.stoppedOnTime; epoch++) {
      const epochStarted = performance.now();
      const lr = learningRateFor(options.schedule, options.optimizer.learningRate, epoch, scheduleLength(epoch), state.schedule);
      setLearningRate(optimizer, lr);
      order.set(ctx.trainRows);
      createRandom(ctx.seed, SHUFFLE, epoch).shuffle(order);
      const augmentRng = createRandom(ctx.seed, AUGMENT, epoch);
      const dropoutRng = createRandom(ctx.seed, DROPOUT, epoch);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let partial = false;
      for (let b = 0; b < batchesPerEpoch; b++) {
        await turn();
        if (ctx.signal.aborted) throw interrupted(epoch, `batch ${b + 1}`, state.epoch);
        const batch = builder.build(order, b, options.augment, augmentRng);
        const targets = smoothedTargets(batch.labels, classCount, options.labelSmoothing);
        if (sampleWeights) for (let j = 0; j < batch.size; j++) sampleWeights[j] = options.classWeights![batch.labels[j]];
        const dropoutSeeds = Array.from({ length: dropoutCount }, () => dropoutRng.int(2 ** 31));
        const result = await step.run(batch, targets, sampleWeights?.subarray(0, batch.size) ?? null, dropoutSeeds);
        if (!Number.isFinite(result.loss)) {
          throw new PipeError(
            `training diverged: the loss became ${result.loss} at epoch ${epoch + 1}, batch ${b + 1} of ${batchesPerEpoch} (learning rate ${lr})`,
            {
              hint: 'lower optimizer.learningRate (e.g. by 10×), or check the input normalisation (pipe.normalise) for a zero std',
              exitCode: 1,
            },
          );
        }
        lossSum += result.loss * batch.size;
        correct += result.correct;
        seen += batch.size;
        batchesThisRun++;
        const at = now();
        if (budget !== undefined && b < batchesPerEpoch - 1 && spent() >= budget) {
          partial = true;
          ctx.log.info(`time budget of ${formatDuration(budget)} spent after batch ${b + 1}/${batchesPerEpoch} of epoch ${epoch + 1}: validating and stopping`);
          break;
        }
        if (at - lastProgress >= 250 || b === batchesPerEpoch - 1) {
          lastProgress = at;
          const elapsed = (at - runStarted) / 1000;
          const remaining = (options.epochs - epoch - 1) * batchesPerEpoch + (batchesPerEpoch - b - 1);
          const ips = seen / ((at - epochStarted) / 1000);
          ctx.progress.update(
            `epoch ${epoch + 1}/${options.epochs} · batch ${b + 1}/${batchesPerEpoch} · loss ${(lossSum / seen).toFixed(3)} · ` +
              `acc ${(correct / seen).toFixed(3)} · ${Math.round(ips)} img/s · ETA ${formatDuration((elapsed / batchesThisRun) * remaining)}`,
          );
        }
      }
      const record: EpochRecord = { epoch: epoch + 1, loss: lossSum / seen, accuracy: correct / seen, lr, seconds: 0, imagesPerSecond: 0 };
      if (partial) record.partial = true;
      if (hasValidation) {
        ctx.progress.update(`epoch ${epoch + 1}/${options.epochs} · validating`);
        if (ctx.signal.aborted) throw interrupted(epoch, 'before validation', state.epoch);
        const val = await inferRows(tf, model, builder, ctx.validationRows, shape, classCount, {
          labelSmoothing: options.labelSmoothing,
          signal: ctx.signal,
        }).catch((err: unknown) => {
          throw ctx.signal.aborted ? interrupted(epoch, 'during validation', state.epoch) : err;
        });
        record.val_loss = val.loss;
        record.val_accuracy = val.accuracy;
      }
      record.seconds = (performance.now() - epochStarted) / 1000;
      record.imagesPerSecond = seen / record.seconds;
      state.history.push(record);

      const monitored = record[monitorKey as keyof EpochRecord] as number;
      const improved = state.best === null || (higherIsBetter ? monitored > state.best.value : monitored < state.best.value);
      if (improved) {
        state.best = { value: monitored, epoch: epoch + 1 };
        state.wait = 0;
        if (options.earlyStopping?.restoreBest) bestWeights = arraysOf(model.getWeights());
      } else {
        state.wait++;
        const patience = options.earlyStopping?.patience ?? 0;
        if (patience > 0 && state.wait >= patience) {
          state.stoppedEarly = true;
          ctx.log.info(`early stopping after epoch ${epoch + 1}: ${monitorKey} has not improved for ${patience} epochs`);
        }
      }
      state.schedule = afterEpoch(options.schedule, state.schedule, higherIsBetter ? -monitored : monitored);
      if (budget !== undefined && !state.stoppedOnTime && spent() >= budget) {
        state.stoppedOnTime = true;
        if (!partial) ctx.log.info(`time budget of ${formatDuration(budget)} spent after epoch ${epoch + 1}: stopping`);
      }
      state.trainingSeconds = spent();
      state.epoch = epoch + 1;
      state.rng.nextEpoch = epoch + 1;
      ctx.progress.note?.(
        `epoch ${record.epoch}/${options.epochs} · loss ${record.loss.toFixed(3)} · acc ${record.accuracy.toFixed(3)}` +
          (hasValidation ? ` · val_loss ${record.val_loss!.toFixed(3)} · val_acc ${record.val_accuracy!.toFixed(3)}` : '') +
          ` · ${formatDuration(record.seconds)}`,
      );
      // The epoch as data too: `pipe ui` tails the run log to draw curves while training goes on.
      ctx.log.info(
        { epochResult: record },
        `epoch ${record.epoch}/${options.epochs}: loss ${record.loss.toFixed(4)} acc ${record.accuracy.toFixed(4)}` +
          (hasValidation ? ` val_loss ${record.val_loss!.toFixed(4)} val_acc ${record.val_accuracy!.toFixed(4)}` : '') +
          ` lr ${lr} ${record.seconds.toFixed(1)}s`,
      );
      const optimizerSlots = await optimizer.getWeights();
      await saveCheckpoint(ctx.scratchDir, state.epoch, {
        state,
        bundles: {
          model: arraysOf(model.getWeights()),
          optimizer: arraysOf(optimizerSlots.map((s) => s.tensor), optimizerSlots.map((s) => s.name)),
          optimizerStep: readStepState(optimizer),
          best: bestWeights ?? [],
        },
      });
      // getWeights returns the optimizer's live variables except for a fresh `iter` scalar, which is ours to free.
      tf.dispose(optimizerSlots.filter((s) => s.name === 'iter').map((s) => s.tensor));
    }
    let restoredBest = false;
    if (options.earlyStopping?.restoreBest && bestWeights && state.best && state.best.epoch !== state.epoch) {
      setModelWeights(tf, model, bestWeights);
      restoredBest = true;
      ctx.log.info(`restored the weights of epoch ${state.best.epoch} (best ${monitorKey} ${state.best.value.toFixed(4)})`);
    }
    return {
      history: state.history,
      bestEpoch: state.best?.epoch ?? null,
      monitor: monitorKey,
      stoppedEarly: state.stoppedEarly,
      stoppedOnTime: state.stoppedOnTime ?? false,
      trainingSeconds: state.trainingSeconds ?? spent(),
      resumedFromEpoch,
      restoredBest,
    };
  } finally {
    await step.dispose();
    optimizer.dispose();
  }
}
