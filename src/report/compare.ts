// `pipe compare` as data: the params that differ between runs, their metrics side by side, and durations.
// Pure: the caller reads the run records and each run's metrics files.
import type { HeadlineMetric } from '../formats/metrics.js';
import type { RunRecord } from '../runs/record.js';
import { flattenParams, leafText } from './flatten.js';
import type { MetricsView } from './metrics.js';

export interface ComparedRun {
  record: RunRecord;
  /** Parsed metrics.json of each stage with an output named `metrics`, by stage id (absent: file not readable). */
  metrics: Record<string, MetricsView | undefined>;
}

export interface ParamRow {
  /** e.g. "train.epochs", "build.layers[2].conv2d.filters", "seed" */
  path: string;
  /** One per run; undefined where the run lacks the param (or the stage). */
  values: (string | number | boolean | null | undefined)[];
}

export type MetricName = HeadlineMetric;
export const METRICS: { name: MetricName; label: string; percent: boolean }[] = [
  { name: 'accuracy', label: 'accuracy', percent: true },
  { name: 'balancedAccuracy', label: 'balanced accuracy', percent: true },
  { name: 'macroF1', label: 'macro F1', percent: false },
  { name: 'loss', label: 'loss', percent: false },
];

export interface MetricRow {
  /** Stage id, or undefined when every run has at most one metrics stage (then the split names the row). */
  stage?: string;
  split: string;
  metric: MetricName;
  values: (number | undefined)[];
  /** Last run minus first, when both have the metric (and there are at least two runs). */
  delta?: number;
}

export interface DurationRow {
  /** A stage id, or "total" (the run's wall time). */
  stage: string;
  values: ({ status: string; seconds?: number } | undefined)[];
}

export interface Comparison {
  /** `variant`: the sweep variant the run is (absent for a run that is not part of a sweep). */
  runs: { id: string; pipeline: string; file: string; startedAt: string; status: string; variant?: string }[];
  params: ParamRow[];
  metrics: MetricRow[];
  durations: DurationRow[];
  /** Things the reader should know, e.g. a metrics file that is no longer in the cache. */
  notes: string[];
}

/** Flattened params of a run, each path with the stage it belongs to (undefined for run-level facts). */
function flatParams(record: RunRecord): Map<string, { stage?: string; value: unknown }> {
  const out = new Map<string, { stage?: string; value: unknown }>([
    ['seed', { value: record.seed }],
    ['backend', { value: record.backend?.requested }],
  ]);
  for (const [id, stage] of Object.entries(record.stages)) {
    out.set(`${id}.uses`, { value: stage.uses });
    for (const [path, value] of flattenParams(stage.params ?? {}, id)) out.set(path, { stage: id, value });
  }
  return out;
}

/** Union of keys in first-seen order: the first run's order, then what later runs add. */
function unionKeys<T>(lists: Iterable<T>[]): T[] {
  const seen = new Set<T>();
  for (const list of lists) for (const k of list) seen.add(k);
  return [...seen];
}

const ABSENT = '\u0000absent';

function diffParams(runs: ComparedRun[]): ParamRow[] {
  const flat = runs.map((r) => flatParams(r.record));
  const rows: ParamRow[] = [];
  for (const path of unionKeys(flat.map((f) => f.keys()))) {
    const entries = flat.map((f) => f.get(path));
    const stage = entries.find((e) => e)?.stage;
    // A stage missing from a run shows once, as its `uses` row; its params are compared among runs that have it.
    const compared = stage === undefined ? entries : entries.filter((_, i) => runs[i].record.stages[stage] !== undefined);
    const distinct = new Set(compared.map((e) => (e === undefined ? ABSENT : leafText(e.value))));
    if (distinct.size > 1) rows.push({ path, values: entries.map((e) => e?.value as ParamRow['values'][number]) });
  }
  return rows;
}

/** The params that differ between these runs (for `pipe runs`). */
export function differingParams(records: RunRecord[]): ParamRow[] {
  return diffParams(records.map((record) => ({ record, metrics: {} })));
}

function metricRows(runs: ComparedRun[]): MetricRow[] {
  const stageIds = unionKeys(runs.map((r) => Object.keys(r.metrics)));
  const single = runs.every((r) => Object.keys(r.metrics).length <= 1);
  const rows: MetricRow[] = [];
  // With one metrics stage per run, runs line up by split even when their stage ids differ.
  const groups = single ? [undefined] : stageIds;
  for (const stage of groups) {
    const viewOf = (r: ComparedRun) => (stage === undefined ? Object.values(r.metrics)[0] : r.metrics[stage]);
    const splits = unionKeys(runs.map((r) => viewOf(r)?.splits.map((s) => s.split) ?? []));
    for (const split of splits) {
      for (const { name } of METRICS) {
        const values = runs.map((r) => viewOf(r)?.splits.find((s) => s.split === split)?.[name]);
        if (!values.some((v) => v !== undefined)) continue;
        const [first, last] = [values[0], values[values.length - 1]];
        rows.push({ stage, split, metric: name, values, ...(values.length > 1 && first !== undefined && last !== undefined ? { delta: last - first } : {}) });
      }
    }
  }
  return rows;
}

function durationRows(runs: ComparedRun[]): DurationRow[] {
  const ids = unionKeys(runs.map((r) => Object.keys(r.record.stages)));
  const rows: DurationRow[] = ids.map((stage) => ({
    stage,
    values: runs.map((r) => {
      const s = r.record.stages[stage];
      return s ? { status: s.status, seconds: s.status === 'ran' || s.status === 'failed' ? s.seconds : undefined } : undefined;
    }),
  }));
  rows.push({
    stage: 'total',
    values: runs.map(({ record }) => {
      const start = Date.parse(record.startedAt);
      const end = record.finishedAt ? Date.parse(record.finishedAt) : NaN;
      return { status: record.status, seconds: Number.isFinite(end - start) ? (end - start) / 1000 : undefined };
    }),
  });
  return rows;
}

export function compareRuns(runs: ComparedRun[]): Comparison {
  const notes: string[] = [];
  for (const { record, metrics } of runs) {
    for (const [stage, view] of Object.entries(metrics)) {
      if (!view) notes.push(`run ${record.id}: the metrics of stage '${stage}' are no longer in the store (removed by \`pipe cache gc\`?)`);
    }
    if (Object.keys(metrics).length === 0) notes.push(`run ${record.id} has no stage with a \`metrics\` output`);
  }
  return {
    runs: runs.map(({ record }) => ({
      id: record.id,
      pipeline: record.pipeline.name,
      file: record.pipeline.file,
      startedAt: record.startedAt,
      status: record.status,
      ...(record.sweep ? { variant: record.sweep.variant } : {}),
    })),
    params: diffParams(runs),
    metrics: metricRows(runs),
    durations: durationRows(runs),
    notes,
  };
}
