// Training history (the train stage's history.json) as one row per epoch.
// Accepted: an array of epoch objects, { epochs: [...] }, or Keras' { history: { loss: [...], ... } } columns.
import { field, isObject, numberField, stringField, type Json } from './json-fields.js';

export interface EpochRow {
  epoch: number;
  loss?: number;
  accuracy?: number;
  valLoss?: number;
  valAccuracy?: number;
  lr?: number;
  seconds?: number;
}

function parseEpoch(obj: Json, index: number): EpochRow {
  return {
    // Epochs are shown 1-based, as Keras prints them.
    epoch: numberField(obj, 'epoch') ?? index + 1,
    loss: numberField(obj, 'loss'),
    accuracy: numberField(obj, 'accuracy', 'acc'),
    valLoss: numberField(obj, 'val_loss', 'valLoss', 'validationLoss'),
    valAccuracy: numberField(obj, 'val_accuracy', 'val_acc', 'valAccuracy', 'validationAccuracy'),
    lr: numberField(obj, 'lr', 'learningRate', 'learning_rate'),
    seconds: numberField(obj, 'seconds', 'time', 'duration'),
  };
}

function fromColumns(columns: Json): Json[] {
  const lengths = Object.values(columns).filter(Array.isArray).map((a) => (a as unknown[]).length);
  const n = lengths.length ? Math.max(...lengths) : 0;
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, Array.isArray(v) ? v[i] : undefined])),
  );
}

export function parseHistory(json: unknown): EpochRow[] {
  let rows: unknown = json;
  if (isObject(json)) {
    const epochs = field(json, 'epochs', 'rows');
    if (Array.isArray(epochs)) rows = epochs;
    else if (isObject(json.history)) rows = fromColumns(json.history);
    else if (Array.isArray(json.loss)) rows = fromColumns(json);
  }
  if (!Array.isArray(rows)) return [];
  return rows.filter(isObject).map(parseEpoch);
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

export function parseTrainingFacts(json: unknown): TrainingFacts {
  if (!isObject(json)) return {};
  return {
    bestEpoch: numberField(json, 'bestEpoch', 'best_epoch'),
    monitor: stringField(json, 'monitor'),
    stoppedEarly: typeof json.stoppedEarly === 'boolean' ? json.stoppedEarly : undefined,
    restoredBest: typeof json.restoredBest === 'boolean' ? json.restoredBest : undefined,
    trainSplit: stringField(json, 'trainSplit'),
    validationSplit: stringField(json, 'validationSplit'),
  };
}
