// metrics.json: what the evaluate stage measured on each split it was asked for (loss, accuracy, balanced
// accuracy, macro F1, per-class precision/recall/F1, the confusion matrix). The report, `pipe compare`, the run
// summary, CI gates and the dashboard read it through readMetrics.
//
//   { "splits": { "<split asked for>": { "split": "<the dataset's name for it>", "loss", "count", "accuracy",
//                 "balancedAccuracy", "macroF1", "perClass": [{class, precision, recall, f1, support}],
//                 "classes": [...], "confusion": [[...]] } }, "backend": "wasm", "precision": "bf16" }
//
// `precision` (what inference's convolutions and matrix products multiplied in: fp32 or bf16) is absent in files
// written before evaluate recorded it, which inferred in fp32.
//
// The file carries no version field: this shape, the only one evaluate has written, is version 1. A change that
// readers of version 1 cannot take adds `"format": "pipe-metrics/2"` (as predictions.json has a format).
import { Checker, defined, readJsonFile, writeJsonFile } from './json-file.js';

export const METRICS_FILE = 'metrics.json';
/** The output kind of a metrics.json (Stage outputs, the report's `metrics` and `reference` inputs). */
export const METRICS_KIND = 'metrics';
export const METRICS_FORMAT_VERSION = 1;

export interface ClassMetrics {
  class: string;
  precision: number;
  recall: number;
  f1: number;
  /** Rows whose true class this is. */
  support: number;
}

/** Metrics of one set of predictions (src/model/metrics.ts computes them). */
export interface ClassificationMetrics {
  count: number;
  accuracy: number;
  balancedAccuracy: number;
  macroF1: number;
  perClass: ClassMetrics[];
  classes: string[];
  /** confusion[true][predicted] */
  confusion: number[][];
}

export interface SplitMetricsRecord extends ClassificationMetrics {
  /** The dataset's own name for the split (evaluate's `test` may be FER2013's PrivateTest); absent: the same name. */
  split?: string;
  /** Absent when it was not a finite number (JSON writes NaN as null). */
  loss?: number;
}

export const INFERENCE_PRECISIONS = ['fp32', 'bf16'] as const;
export type InferencePrecision = (typeof INFERENCE_PRECISIONS)[number];

export interface MetricsFile {
  /** By the split name evaluate was asked for, in the order asked. */
  splits: Record<string, SplitMetricsRecord>;
  backend?: string;
  /** What inference's convolutions and matrix products multiplied in (evaluate's `precision`, resolved). */
  precision?: InferencePrecision;
}

/** The numbers of a split that CI gates and run summaries name (`test.accuracy`, `evaluate.test.macroF1`). */
export const HEADLINE_METRICS = ['accuracy', 'balancedAccuracy', 'macroF1', 'loss'] as const satisfies readonly (keyof SplitMetricsRecord)[];
export type HeadlineMetric = (typeof HEADLINE_METRICS)[number];

export async function writeMetrics(file: string, value: MetricsFile): Promise<void> {
  await writeJsonFile(file, value);
}

function checkSplit(c: Checker, value: unknown, path: string): SplitMetricsRecord {
  const s = c.object(value, path);
  const at = (key: string) => c.at(path, key);
  const classes = c.strings(s.classes, at('classes'));
  const confusion = c.list(s.confusion, at('confusion'), (row, rowPath) => {
    const cells = c.numbers(row, rowPath);
    return cells.length === classes.length ? cells : c.fail(rowPath, `a row of ${classes.length} counts (one per class)`, row, `${cells.length}`);
  });
  if (confusion.length !== classes.length) c.fail(at('confusion'), `${classes.length} rows (one per class)`, s.confusion, `${confusion.length}`);
  return defined<SplitMetricsRecord>({
    split: c.optionalString(s.split, at('split')),
    loss: c.optionalNumber(s.loss, at('loss')),
    count: c.number(s.count, at('count')),
    accuracy: c.number(s.accuracy, at('accuracy')),
    balancedAccuracy: c.number(s.balancedAccuracy, at('balancedAccuracy')),
    macroF1: c.number(s.macroF1, at('macroF1')),
    perClass: c.list(s.perClass, at('perClass'), (row, rowPath) => {
      const r = c.object(row, rowPath);
      return {
        class: c.string(r.class, c.at(rowPath, 'class')),
        precision: c.number(r.precision, c.at(rowPath, 'precision')),
        recall: c.number(r.recall, c.at(rowPath, 'recall')),
        f1: c.number(r.f1, c.at(rowPath, 'f1')),
        support: c.number(r.support, c.at(rowPath, 'support')),
      };
    }),
    classes,
    confusion,
  });
}

const WRITER = 'the evaluate stage';

/** A parsed metrics.json, checked; `file` names it in errors. */
export function parseMetrics(json: unknown, file: string): MetricsFile {
  const c = new Checker({ file, writer: WRITER });
  const top = c.object(json, '');
  const backend = c.optionalString(top.backend, 'backend');
  const precision = top.precision === undefined ? undefined : c.oneOf(top.precision, 'precision', INFERENCE_PRECISIONS);
  return {
    splits: c.entries(top.splits, 'splits', (value, path) => checkSplit(c, value, path)),
    ...(backend === undefined ? {} : { backend }),
    ...(precision === undefined ? {} : { precision }),
  };
}

export async function readMetrics(file: string): Promise<MetricsFile> {
  return parseMetrics(await readJsonFile({ file, writer: WRITER }), file);
}
