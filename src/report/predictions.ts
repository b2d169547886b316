// The evaluate stage's predictions.json (src/formats/predictions.ts) as the report shows it: a precision-recall
// curve per class from the predicted probabilities, and the most confident mistakes. Pure: thumbnails are drawn
// by the caller (load-inputs.ts), which has the dataset.
import type { Predictions, SplitPredictions } from '../formats/predictions.js';

export interface PrPoint {
  recall: number;
  precision: number;
}

export interface PrCurve {
  class: string;
  /** Rows of the class in the split. */
  positives: number;
  /** Area under the step curve: the mean of the precision at each true positive. */
  averagePrecision: number;
  /** One point per threshold at which recall grows, highest threshold first. */
  points: PrPoint[];
}

/** A wrong prediction: the dataset row, its classes and the probability given to the wrong class. */
export interface Mistake {
  row: number;
  source: number;
  truth: number;
  predicted: number;
  probability: number;
}

/** The split a report leads with, as headlineSplit picks it: test if present, else the last non-train split. */
export function headlinePredictions(p: Predictions): { split: string; predictions: SplitPredictions } | undefined {
  const names = Object.keys(p.splits);
  const split = names.find((s) => s === 'test') ?? [...names].reverse().find((s) => s !== 'train') ?? names[names.length - 1];
  return split === undefined ? undefined : { split, predictions: p.splits[split] };
}

/**
 * One-vs-rest precision-recall curve of each class with rows in the split, ranking rows by that class's
 * probability. Rows of equal probability enter together (one threshold), so ties do not make steps of their own.
 */
export function precisionRecallCurves(split: SplitPredictions, classes: string[]): PrCurve[] {
  const curves: PrCurve[] = [];
  const order = split.rows.map((_, i) => i);
  classes.forEach((name, k) => {
    const positives = split.truth.filter((t) => t === k).length;
    if (positives === 0) return;
    const ranked = [...order].sort((a, b) => split.probabilities[b][k] - split.probabilities[a][k]);
    const points: PrPoint[] = [];
    let tp = 0;
    let fp = 0;
    let ap = 0;
    let lastRecall = 0;
    for (let i = 0; i < ranked.length; i++) {
      const row = ranked[i];
      if (split.truth[row] === k) tp++;
      else fp++;
      const next = ranked[i + 1];
      if (next !== undefined && split.probabilities[next][k] === split.probabilities[row][k]) continue;
      const recall = tp / positives;
      if (recall === lastRecall) continue;
      const precision = tp / (tp + fp);
      ap += (recall - lastRecall) * precision;
      lastRecall = recall;
      points.push({ recall, precision });
    }
    curves.push({ class: name, positives, averagePrecision: ap, points });
  });
  return curves;
}

/** The `limit` wrong predictions given the highest probability, most confident first (ties: dataset order). */
export function confidentMistakes(split: SplitPredictions, limit: number): Mistake[] {
  const out: Mistake[] = [];
  for (let i = 0; i < split.rows.length; i++) {
    if (split.truth[i] === split.predicted[i]) continue;
    out.push({ row: split.rows[i], source: split.source[i], truth: split.truth[i], predicted: split.predicted[i], probability: split.probabilities[i][split.predicted[i]] });
  }
  return out.sort((a, b) => b.probability - a.probability || a.row - b.row).slice(0, limit);
}
