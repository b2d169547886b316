// Evaluation metrics (the evaluate stage's metrics.json) in one shape for the report and `pipe compare`.
// Accepted: { <split>: {...} }, { splits: { <split>: {...} } }, or one split's object at the top level.
import { field, isObject, numberField, stringField, type Json } from './json-fields.js';

export interface ClassMetrics {
  class: string;
  precision?: number;
  recall?: number;
  f1?: number;
  support?: number;
}

export interface SplitMetrics {
  split: string;
  /** The dataset's own name for the split when it differs from `split` (evaluate's test may be PrivateTest). */
  datasetSplit?: string;
  loss?: number;
  accuracy?: number;
  balancedAccuracy?: number;
  macroF1?: number;
  /** Rows evaluated. */
  count?: number;
  classes: string[];
  perClass: ClassMetrics[];
  /** confusion[true][predicted] counts, classes × classes; absent when missing or malformed. */
  confusion?: number[][];
}

export interface MetricsView {
  splits: SplitMetrics[];
}

const SPLIT_FIELDS = ['accuracy', 'acc', 'loss', 'confusion', 'confusionMatrix', 'perClass', 'balancedAccuracy'];

function looksLikeSplit(value: unknown): value is Json {
  return isObject(value) && SPLIT_FIELDS.some((f) => value[f] !== undefined);
}

function parseClassRow(value: unknown, name?: string): ClassMetrics | undefined {
  if (!isObject(value)) return undefined;
  const cls = name ?? stringField(value, 'class', 'name', 'label');
  if (cls === undefined) return undefined;
  return {
    class: cls,
    precision: numberField(value, 'precision'),
    recall: numberField(value, 'recall'),
    f1: numberField(value, 'f1', 'f1Score', 'f1_score'),
    support: numberField(value, 'support', 'count', 'n'),
  };
}

function parsePerClass(value: unknown): ClassMetrics[] {
  if (Array.isArray(value)) return value.map((v) => parseClassRow(v)).filter((r): r is ClassMetrics => !!r);
  if (isObject(value)) {
    return Object.entries(value)
      .map(([name, v]) => parseClassRow(v, name))
      .filter((r): r is ClassMetrics => !!r);
  }
  return [];
}

function parseConfusion(value: unknown, size: number): number[][] | undefined {
  if (!Array.isArray(value) || value.length === 0) return undefined;
  const n = size || value.length;
  if (value.length !== n) return undefined;
  const rows: number[][] = [];
  for (const row of value) {
    if (!Array.isArray(row) || row.length !== n || !row.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      return undefined;
    }
    rows.push(row as number[]);
  }
  return rows;
}

function mean(values: (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length && known.length === values.length ? known.reduce((a, b) => a + b, 0) / known.length : undefined;
}

export function parseSplitMetrics(split: string, obj: Json): SplitMetrics {
  const perClass = parsePerClass(field(obj, 'perClass', 'per_class', 'classMetrics'));
  const classesField = field(obj, 'classes', 'classNames', 'labels');
  const classes =
    Array.isArray(classesField) && classesField.every((c) => typeof c === 'string')
      ? (classesField as string[])
      : perClass.map((r) => r.class);
  const confusion = parseConfusion(field(obj, 'confusion', 'confusionMatrix', 'confusion_matrix'), classes.length);
  const total = confusion?.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  const own = stringField(obj, 'split');
  return {
    split,
    ...(own && own !== split ? { datasetSplit: own } : {}),
    loss: numberField(obj, 'loss'),
    accuracy: numberField(obj, 'accuracy', 'acc'),
    balancedAccuracy:
      numberField(obj, 'balancedAccuracy', 'balanced_accuracy') ?? (perClass.length ? mean(perClass.map((r) => r.recall)) : undefined),
    macroF1: numberField(obj, 'macroF1', 'macro_f1', 'f1Macro') ?? (perClass.length ? mean(perClass.map((r) => r.f1)) : undefined),
    count: numberField(obj, 'count', 'rows', 'n', 'support') ?? total,
    classes,
    perClass,
    confusion,
  };
}

/** Normalise a parsed metrics.json; splits keep the file's order. */
export function parseMetrics(json: unknown): MetricsView {
  if (!isObject(json)) return { splits: [] };
  const container = isObject(json.splits) ? json.splits : json;
  const splits = Object.entries(container)
    .filter(([, v]) => looksLikeSplit(v))
    .map(([name, v]) => parseSplitMetrics(name, v as Json));
  if (splits.length === 0 && looksLikeSplit(json)) splits.push(parseSplitMetrics(stringField(json, 'split') ?? 'test', json));
  return { splits };
}

/** The split a report leads with: test if present, else the last non-train split, else the last one. */
export function headlineSplit(view: MetricsView): SplitMetrics | undefined {
  const { splits } = view;
  return (
    splits.find((s) => s.split === 'test') ??
    [...splits].reverse().find((s) => s.split !== 'train') ??
    splits[splits.length - 1]
  );
}
