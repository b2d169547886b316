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
}

export function trainingFacts(file: HistoryFile): TrainingFacts {
  return {
    bestEpoch: file.bestEpoch ?? undefined,
    monitor: file.monitor,
    stoppedEarly: file.stoppedEarly,
    restoredBest: file.restoredBest,
    trainSplit: file.trainSplit,
    validationSplit: file.validationSplit ?? undefined,
  };
}
