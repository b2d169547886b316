// history.json: how the train stage's training went, epoch by epoch (loss, accuracy, val_loss, val_accuracy,
// learning rate, seconds), and the facts of the run as a whole (best epoch, early stop, the splits it trained and
// validated on). The report's curves and protocol check and the dashboard's run page read it through readHistory;
// the dashboard also reads the same epoch records from a run log's `epochResult` lines (parseEpoch).
//
// The file carries no version field; this shape is version 1. Fields added since the first train stage are
// optional here (stoppedOnTime, trainingSeconds, trainSplit, validationSplit, an epoch's partial), so histories
// in older caches still read.
import { Checker, defined, readJsonFile, writeJsonFile } from './json-file.js';

export const HISTORY_FILE = 'history.json';
export const HISTORY_KIND = 'history';
export const HISTORY_FORMAT_VERSION = 1;

/** One epoch, under Keras' names. Numbers are absent when they were not finite (JSON writes NaN as null). */
export interface EpochRecord {
  /** 1-based, as Keras prints it. */
  epoch: number;
  loss?: number;
  accuracy?: number;
  val_loss?: number;
  val_accuracy?: number;
  lr?: number;
  seconds?: number;
  imagesPerSecond?: number;
  /** The time budget ran out during this epoch: it saw only part of the training split. */
  partial?: boolean;
}

export interface HistoryFile {
  epochs: EpochRecord[];
  /** 1-based epoch whose weights the model holds when restoring the best, else the best by the monitor. */
  bestEpoch?: number | null;
  monitor?: string;
  stoppedEarly?: boolean;
  /** The time budget ended training. */
  stoppedOnTime?: boolean;
  /** Seconds spent training, over resumed runs too. */
  trainingSeconds?: number;
  restoredBest?: boolean;
  resumedFromEpoch?: number | null;
  classWeights?: number[] | null;
  backend?: string;
  /** What ran the backend's convolutions, e.g. "wasm, convolutions, … on oneDNN libdnnl.so.2 (oneDNN 2.6.3, avx512_core_bf16)". */
  kernels?: string;
  /** What the training steps' convolutions and matrix products multiplied in: 'fp32' or 'bf16' (train's `precision`, resolved). */
  precision?: string;
  /** The split train fitted. */
  trainSplit?: string;
  /** The split it validated on; null when that split had no rows. */
  validationSplit?: string | null;
  trainRows?: number;
  validationRows?: number;
}

const WRITER = 'the train stage';

export async function writeHistory(file: string, value: HistoryFile): Promise<void> {
  await writeJsonFile(file, value);
}

function checkEpoch(c: Checker, value: unknown, path: string): EpochRecord {
  const e = c.object(value, path);
  const out: EpochRecord = { epoch: c.number(e.epoch, c.at(path, 'epoch')) };
  for (const key of ['loss', 'accuracy', 'val_loss', 'val_accuracy', 'lr', 'seconds', 'imagesPerSecond'] as const) {
    const v = c.optionalNumber(e[key], c.at(path, key));
    if (v !== undefined) out[key] = v;
  }
  const partial = c.optionalBoolean(e.partial, c.at(path, 'partial'));
  if (partial !== undefined) out.partial = partial;
  return out;
}

/** One epoch record (a history's, or a run log's `epochResult`), checked; `file` and `path` name it in errors. */
export function parseEpoch(json: unknown, file: string, path = ''): EpochRecord {
  return checkEpoch(new Checker({ file, writer: WRITER }), json, path);
}

/** A parsed history.json, checked; `file` names it in errors. */
export function parseHistory(json: unknown, file: string): HistoryFile {
  const c = new Checker({ file, writer: WRITER });
  const h = c.object(json, '');
  const nullable =
    <T>(check: (v: unknown, path: string) => T) =>
    (v: unknown, path: string): T | null =>
      v === null ? null : check(v, path);
  const optional = <T>(key: keyof HistoryFile, check: (v: unknown, path: string) => T): T | undefined =>
    h[key] === undefined ? undefined : check(h[key], key);
  const number = (v: unknown, p: string) => c.number(v, p);
  const string = (v: unknown, p: string) => c.string(v, p);
  const boolean = (v: unknown, p: string) => c.boolean(v, p);
  return defined<HistoryFile>({
    epochs: c.list(h.epochs, 'epochs', (v, path) => checkEpoch(c, v, path)),
    bestEpoch: optional('bestEpoch', nullable(number)),
    monitor: optional('monitor', string),
    stoppedEarly: optional('stoppedEarly', boolean),
    stoppedOnTime: optional('stoppedOnTime', boolean),
    trainingSeconds: optional('trainingSeconds', number),
    restoredBest: optional('restoredBest', boolean),
    resumedFromEpoch: optional('resumedFromEpoch', nullable(number)),
    classWeights: optional('classWeights', nullable((v, p) => c.numbers(v, p))),
    backend: optional('backend', string),
    kernels: optional('kernels', string),
    precision: optional('precision', string),
    trainSplit: optional('trainSplit', string),
    validationSplit: optional('validationSplit', nullable(string)),
    trainRows: optional('trainRows', number),
    validationRows: optional('validationRows', number),
  });
}

export async function readHistory(file: string): Promise<HistoryFile> {
  return parseHistory(await readJsonFile({ file, writer: WRITER }), file);
}
