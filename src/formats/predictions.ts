// Per-image predictions of an evaluate stage (predictions.json): for each split it scored, every row's dataset
// row, source, true class, predicted class and class probabilities, in columns. What the dashboard's mistakes
// view and a report's gallery of misclassified images read; evaluate writes it, and this module owns the format.
export const PREDICTIONS_FORMAT = 'pipe-predictions/1';

export interface SplitPredictions {
  /** Row indices in the evaluated dataset (its Arrow file), in the order scored. */
  rows: number[];
  /** Each row's `source` (the CSV line, or the line of files.txt). */
  source: number[];
  truth: number[];
  predicted: number[];
  /** Per row, the probability of each class (rounded to 4 decimals). */
  probabilities: number[][];
}

export interface Predictions {
  format: typeof PREDICTIONS_FORMAT;
  classes: string[];
  /** By the split name evaluate was asked for (test, validation). */
  splits: Record<string, SplitPredictions>;
}

/** One split's predictions from inference results (`probabilities`: rows × classes, row after row). */
export function splitPredictions(rows: ArrayLike<number>, source: ArrayLike<number>, truth: ArrayLike<number>, predicted: ArrayLike<number>, probabilities: Float32Array, classCount: number): SplitPredictions {
  const out: SplitPredictions = { rows: [], source: [], truth: [], predicted: [], probabilities: [] };
  for (let i = 0; i < rows.length; i++) {
    out.rows.push(rows[i]);
    out.source.push(source[rows[i]]);
    out.truth.push(truth[i]);
    out.predicted.push(predicted[i]);
    out.probabilities.push(Array.from(probabilities.subarray(i * classCount, (i + 1) * classCount), (p) => Math.round(p * 1e4) / 1e4));
  }
  return out;
}

const isIndexList = (v: unknown, n?: number): v is number[] =>
  Array.isArray(v) && (n === undefined || v.length === n) && v.every((x) => Number.isInteger(x) && x >= 0);

/** predictions.json as readers use it, or undefined when the value is not one (another format, damaged). */
export function parsePredictions(json: unknown): Predictions | undefined {
  const p = json as Partial<Predictions> | undefined;
  if (!p || p.format !== PREDICTIONS_FORMAT || !Array.isArray(p.classes) || !p.splits || typeof p.splits !== 'object') return undefined;
  const classes = p.classes.map(String);
  const splits: Record<string, SplitPredictions> = {};
  for (const [name, s] of Object.entries(p.splits)) {
    const n = Array.isArray(s?.rows) ? s.rows.length : -1;
    if (!isIndexList(s?.rows) || !isIndexList(s.source, n) || !isIndexList(s.truth, n) || !isIndexList(s.predicted, n)) return undefined;
    if (!Array.isArray(s.probabilities) || s.probabilities.length !== n) return undefined;
    if (!s.probabilities.every((row) => Array.isArray(row) && row.length === classes.length && row.every((x) => typeof x === 'number' && Number.isFinite(x)))) return undefined;
    if ([...s.truth, ...s.predicted].some((k) => k >= classes.length)) return undefined;
    splits[name] = s;
  }
  return { format: PREDICTIONS_FORMAT, classes, splits };
}
