// predictions.json: the evaluate stage's per-image predictions. For each split it scored, every row's dataset
// row, source, true class, predicted class and class probabilities, in columns: what a mistakes view or a
// gallery of misclassified images reads (readPredictions).
//
// Versioned by its `format` field ('pipe-predictions/1'); a file of another format is refused.
import { Checker, readJsonFile, writeJsonFile } from './json-file.js';

export const PREDICTIONS_FILE = 'predictions.json';
export const PREDICTIONS_KIND = 'predictions';
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

const WRITER = 'the evaluate stage';

/** Written compact: a row per scored image makes it the largest JSON file a run keeps. */
export async function writePredictions(file: string, value: Predictions): Promise<void> {
  await writeJsonFile(file, value, true);
}

/** A parsed predictions.json, checked (columns of one length, class indices in the class list); `file` names it in errors. */
export function parsePredictions(json: unknown, file: string): Predictions {
  const c = new Checker({ file, writer: WRITER });
  const p = c.object(json, '');
  if (p.format !== PREDICTIONS_FORMAT) c.fail('format', `'${PREDICTIONS_FORMAT}'`, p.format);
  const classes = c.strings(p.classes, 'classes');
  const splits = c.entries(p.splits, 'splits', (value, path): SplitPredictions => {
    const s = c.object(value, path);
    const rows = c.list(s.rows, c.at(path, 'rows'), (v, at) => c.index(v, at));
    /** A column of row indices, or with `classIndex` of class indices. */
    const column = (key: 'source' | 'truth' | 'predicted', classIndex = false): number[] => {
      const values = c.list(s[key], c.at(path, key), (v, at) => {
        const x = c.index(v, at);
        return classIndex && x >= classes.length ? c.fail(at, `a class index below ${classes.length} (the number of classes)`, v) : x;
      });
      if (values.length !== rows.length) c.fail(c.at(path, key), `${rows.length} values (one per row)`, s[key], `${values.length}`);
      return values;
    };
    const source = column('source');
    const truth = column('truth', true);
    const predicted = column('predicted', true);
    const probabilities = c.list(s.probabilities, c.at(path, 'probabilities'), (row, at) => {
      const values = c.numbers(row, at);
      return values.length === classes.length ? values : c.fail(at, `${classes.length} probabilities (one per class)`, row, `${values.length}`);
    });
    if (probabilities.length !== rows.length) c.fail(c.at(path, 'probabilities'), `${rows.length} rows (one per row)`, s.probabilities, `${probabilities.length}`);
    return { rows, source, truth, predicted, probabilities };
  });
  return { format: PREDICTIONS_FORMAT, classes, splits };
}

export async function readPredictions(file: string): Promise<Predictions> {
  return parsePredictions(await readJsonFile({ file, writer: WRITER }), file);
}
