// Evaluation metrics (the evaluate stage's metrics.json, src/formats/metrics.ts) as the report and `pipe compare`
// show them: the splits in the file's order, each under the name evaluate was asked for.
import type { ClassMetrics, MetricsFile } from '../formats/metrics.js';

export type { ClassMetrics };

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
  /** confusion[true][predicted] counts, classes × classes; absent when empty. */
  confusion?: number[][];
}

export interface MetricsView {
  splits: SplitMetrics[];
  /** What inference multiplied in (fp32 or bf16), where the file says. */
  precision?: string;
}

/** The splits of a metrics.json, in the file's order. */
export function metricsView(file: MetricsFile): MetricsView {
  return {
    splits: Object.entries(file.splits).map(([split, s]) => ({
      split,
      ...(s.split && s.split !== split ? { datasetSplit: s.split } : {}),
      loss: s.loss,
      accuracy: s.accuracy,
      balancedAccuracy: s.balancedAccuracy,
      macroF1: s.macroF1,
      count: s.count,
      classes: s.classes,
      perClass: s.perClass,
      confusion: s.confusion.length ? s.confusion : undefined,
    })),
    ...(file.precision ? { precision: file.precision } : {}),
  };
}

/** "Inferred in bf16 …" or "Inferred in fp32.", or nothing when the metrics do not say. */
export function inferredIn(view: Pick<MetricsView, 'precision'>): string {
  if (!view.precision) return '';
  return view.precision === 'bf16' ? 'Inferred with convolutions and matrix products in bf16 (fp32 accumulation).' : `Inferred in ${view.precision}.`;
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
