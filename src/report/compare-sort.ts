// `pipe compare --sort test.accuracy`: the runs of a comparison best first on one metric (lowest first for
// loss, highest first for the others; runs without the metric last). Pure.
import { PipeError } from '../errors.js';
import { METRICS, type Comparison, type MetricRow } from './compare.js';

function rowName(row: MetricRow): string {
  return `${row.stage ? `${row.stage}.` : ''}${row.split}.${row.metric}`;
}

/** The metric row `spec` names: "<split>.<metric>" or "<stage>.<split>.<metric>". */
function findRow(c: Comparison, spec: string): MetricRow {
  const parts = spec.split('.');
  const metric = parts.pop();
  const split = parts.pop();
  const stage = parts.length ? parts.join('.') : undefined;
  const row = c.metrics.find((r) => r.metric === metric && r.split === split && (stage === undefined || r.stage === stage));
  if (!row) {
    const names = c.metrics.map(rowName);
    throw new PipeError(`--sort ${spec}: no such metric in these runs`, {
      hint: names.length ? `use one of: ${[...new Set(names)].join(', ')}` : `the runs have no metrics (metric names: ${METRICS.map((m) => m.name).join(', ')})`,
    });
  }
  return row;
}

export function sortComparison(c: Comparison, spec: string): Comparison {
  const row = findRow(c, spec);
  const sign = row.metric === 'loss' ? 1 : -1;
  const order = c.runs
    .map((_, i) => i)
    .sort((a, b) => {
      const va = row.values[a];
      const vb = row.values[b];
      if (va === undefined || vb === undefined) return va === undefined ? (vb === undefined ? a - b : 1) : -1;
      return sign * (va - vb) || a - b;
    });
  const pick = <T>(values: T[]): T[] => order.map((i) => values[i]);
  return {
    ...c,
    runs: pick(c.runs),
    params: c.params.map((p) => ({ ...p, values: pick(p.values) })),
    metrics: c.metrics.map((m) => ({ ...m, values: pick(m.values) })),
    durations: c.durations.map((d) => ({ ...d, values: pick(d.values) })),
  };
}
