// `pipe runs` as an experiment table, in the style of DVC's `exp show`: one row per run, the params that differ
// between the listed runs, and each run's headline metrics. Pure: the caller reads the records and metrics.
import type { RunRecord } from '../runs/record.js';
import { differingParams } from './compare.js';
import { escapeMarkdown } from './escape.js';
import { leafText } from './flatten.js';
import { formatDuration } from '../duration.js';
import { formatNumber, formatPercent } from './format.js';
import type { RunMetrics } from './run-metrics.js';

export interface RunRow {
  id: string;
  /** `pipe run --name`, and its `--tag`s. */
  name?: string;
  tags?: string[];
  pipeline: string;
  status: string;
  startedAt: string;
  /** Wall time, when the run recorded its end. */
  seconds?: number;
  /** Stages that ran (not from the cache) out of all. */
  ran: number;
  stages: number;
  /** Value of each differing param (see RunsTable.params); absent where the run lacks it. */
  params: Record<string, string | number | boolean | null>;
  /** Headline split and its metrics. */
  split?: string;
  accuracy?: number;
  balancedAccuracy?: number;
  macroF1?: number;
  leaky?: boolean;
}

export interface RunsTable {
  /** Param paths that differ between the rows, e.g. "train.epochs". */
  params: string[];
  rows: RunRow[];
  /** Runs left out because they ran nothing (every stage from the cache); shown with --all. */
  hidden: number;
}

/** Whether a run executed anything: a stage ran, failed or was stopped, or the run itself did not end well. */
export function executedSomething(record: RunRecord): boolean {
  return record.status !== 'ok' || Object.values(record.stages).some((s) => s.status !== 'cached' && s.status !== 'skipped');
}

export function runsTable(records: RunRecord[], metricsOf: (r: RunRecord) => RunMetrics | undefined, all: boolean): RunsTable {
  const shown = all ? records : records.filter(executedSomething);
  const params = shown.length > 1 ? differingParams(shown) : [];
  const rows = shown.map((record, i): RunRow => {
    const m = metricsOf(record);
    const end = record.finishedAt ? Date.parse(record.finishedAt) : NaN;
    const stages = Object.values(record.stages);
    const values: RunRow['params'] = {};
    for (const p of params) if (p.values[i] !== undefined) values[p.path] = p.values[i] as RunRow['params'][string];
    return {
      id: record.id,
      ...(typeof record.name === 'string' ? { name: record.name } : {}),
      ...(Array.isArray(record.tags) && record.tags.length ? { tags: record.tags.filter((t) => typeof t === 'string') } : {}),
      pipeline: record.pipeline.name,
      status: record.status,
      startedAt: record.startedAt,
      ...(Number.isFinite(end) ? { seconds: (end - Date.parse(record.startedAt)) / 1000 } : {}),
      ran: stages.filter((s) => s.status === 'ran').length,
      stages: stages.length,
      params: values,
      split: m?.headline?.split,
      accuracy: m?.headline?.accuracy,
      balancedAccuracy: m?.headline?.balancedAccuracy,
      macroF1: m?.headline?.macroF1,
      leaky: m?.leakage?.leaky,
    };
  });
  return { params: params.map((p) => p.path), rows, hidden: records.length - shown.length };
}

/** Param columns shown in a terminal; the rest are counted in a note (--json and --markdown show all). */
const TEXT_PARAM_COLUMNS = 6;

function cells(t: RunsTable, paramColumns: string[]): { header: string[]; rows: string[][]; numeric: boolean[] } {
  const split = t.rows.find((r) => r.split)?.split ?? 'test';
  // The name and tags columns show only where some run has one.
  const named = t.rows.some((r) => r.name !== undefined);
  const tagged = t.rows.some((r) => r.tags?.length);
  const columns: Array<{ head: string; numeric: boolean; cell(r: RunRow): string }> = [
    { head: 'run', numeric: false, cell: (r) => r.id },
    ...(named ? [{ head: 'name', numeric: false, cell: (r: RunRow) => r.name ?? '' }] : []),
    { head: 'pipeline', numeric: false, cell: (r) => r.pipeline },
    { head: 'status', numeric: false, cell: (r) => r.status },
    { head: 'time', numeric: true, cell: (r) => formatDuration(r.seconds) },
    { head: 'ran', numeric: true, cell: (r) => `${r.ran}/${r.stages}` },
    ...paramColumns.map((p) => ({ head: p, numeric: false, cell: (r: RunRow) => (p in r.params ? leafText(r.params[p]) : '—') })),
    { head: `${split} acc`, numeric: true, cell: (r) => formatPercent(r.accuracy) },
    { head: 'bal. acc', numeric: true, cell: (r) => formatPercent(r.balancedAccuracy) },
    { head: 'macro F1', numeric: true, cell: (r) => formatNumber(r.macroF1) },
    { head: 'leakage', numeric: false, cell: (r) => (r.leaky === undefined ? '—' : r.leaky ? 'LEAK' : 'none') },
    ...(tagged ? [{ head: 'tags', numeric: false, cell: (r: RunRow) => (r.tags ?? []).join(' ') }] : []),
  ];
  return {
    header: columns.map((c) => c.head),
    rows: t.rows.map((r) => columns.map((c) => c.cell(r))),
    numeric: columns.map((c) => c.numeric),
  };
}

export function runsTableText(t: RunsTable): string {
  const paramColumns = t.params.slice(0, TEXT_PARAM_COLUMNS);
  const { header, rows, numeric } = cells(t, paramColumns);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (numeric[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (t.params.length > paramColumns.length) out.push(`(${t.params.length - paramColumns.length} more params differ: ${t.params.slice(paramColumns.length).join(', ')}; --json or --markdown show them)`);
  if (t.hidden) out.push(`(${t.hidden} runs that ran nothing are hidden; --all shows them)`);
  return `${out.join('\n')}\n`;
}

export function runsTableMarkdown(t: RunsTable): string {
  const { header, rows, numeric } = cells(t, t.params);
  const line = (r: string[]) => `| ${r.map(escapeMarkdown).join(' | ')} |`;
  return `${[line(header), `|${numeric.map((n) => (n ? ' ---: ' : ' --- ')).join('|')}|`, ...rows.map(line)].join('\n')}\n`;
}
