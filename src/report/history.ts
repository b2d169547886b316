// Training history (the train stage's history.json, src/formats/history.ts) as one row per epoch for the charts,
// the report and the dashboard, and the facts of the run beside them.
import type { EpochRecord, HistoryFile } from '../formats/history.js';

export interface EpochRow {
  epoch: number;
  loss?: number;
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  lr?: number;
  seconds?: number;
}

export function epochRow(e: EpochRecord): EpochRow {
  return {
    epoch: e.epoch,
    loss: e.loss,
    accuracy: e.accuracy,
    valLoss: e.val_loss,
    valAccuracy: e.val_accuracy,
    lr: e.lr,
    seconds: e.seconds,
  };
}

export function historyRows(file: HistoryFile): EpochRow[] {
  return file.epochs.map(epochRow);
}

/** What the train stage says about the run as a whole, beside the epochs. */
export interface TrainingFacts {
  bestEpoch?: number;
  monitor?: string;
  stoppedEarly?: boolean;
  restoredBest?: boolean;
  /** Splits train used: the one it fitted and the one it validated on (best epoch, early stopping). */
  trainSplit?: string;
  validationSplit?: string;
  /** What trained it: the backend, what ran its convolutions, and what they multiplied in (fp32 or bf16). */
  backend?: string;
  kernels?: string;
  precision?: string;
}

/** "Trained on wasm (… on oneDNN …), convolutions and matrix products in bf16.", or nothing when the history does not say. */
export function trainedOn(t: TrainingFacts): string {
  if (!t.backend && !t.precision) return '';
  const on = t.backend ? `Trained on ${t.kernels && t.kernels !== t.backend ? t.kernels : t.backend}` : 'Trained';
  const precision = t.precision === 'bf16' ? ', convolutions and matrix products in bf16 (fp32 accumulation)' : t.precision ? `, in ${t.precision}` : '';
  return `${on}${precision}.`;
}

export function trainingFacts(file: HistoryFile): TrainingFacts {
  return {
    bestEpoch: file.bestEpoch ?? undefined,
    monitor: file.monitor,
    stoppedEarly: file.stoppedEarly,
    restoredBest: file.restoredBest,
    trainSplit: file.trainSplit,
    validationSplit: file.validationSplit ?? undefined,
    backend: file.backend,
    kernels: file.kernels,
    precision: file.precision,
  };
}
