// Renders a Comparison as one table: plain text for a terminal, or GitHub-flavoured Markdown.
import type { Comparison } from './compare.js';
import { METRICS } from './compare.js';
import { escapeMarkdown } from './escape.js';
import { leafText } from './flatten.js';
import { formatNumber, formatPercent, formatPointDelta, formatSeconds } from './format.js';

type Row = { kind: 'section'; title: string } | { kind: 'cells'; cells: string[] };

/** Signed difference of a metric: percentage points for percentages, else the plain number. */
function formatDelta(delta: number | undefined, percent: boolean): string {
  if (delta === undefined) return '';
  if (percent) return formatPointDelta(delta, 0);
  return `${delta >= 0 ? '+' : '−'}${formatNumber(Math.abs(delta))}`;
}

/** Every row has one cell per run, then the delta column (last run − first; metrics only). */
function rows(c: Comparison): Row[] {
  const out: Row[] = [...rowsWithoutDelta(c)];
  const metricRows = new Map(c.metrics.map((m) => [metricName(m), m]));
  return out.map((r) => {
    if (r.kind !== 'cells') return r;
    const m = metricRows.get(r.cells[0]);
    const spec = m && METRICS.find((x) => x.name === m.metric)!;
    const delta = r.cells[0] === 'pipeline' ? (c.runs.length > 1 ? 'Δ last − first' : '') : m ? formatDelta(m.delta, spec!.percent) : '';
    return { kind: 'cells', cells: [...r.cells, delta] };
  });
}

function metricName(m: Comparison['metrics'][number]): string {
  return `${m.stage ? `${m.stage}.` : ''}${m.split} ${METRICS.find((x) => x.name === m.metric)!.label}`;
}

function rowsWithoutDelta(c: Comparison): Row[] {
  const out: Row[] = [
    { kind: 'cells', cells: ['pipeline', ...c.runs.map((r) => r.pipeline)] },
    ...(c.runs.some((r) => r.variant) ? [{ kind: 'cells' as const, cells: ['variant', ...c.runs.map((r) => r.variant ?? '—')] }] : []),
    { kind: 'cells', cells: ['run', ...c.runs.map((r) => r.id)] },
    { kind: 'cells', cells: ['status', ...c.runs.map((r) => r.status)] },
    { kind: 'section', title: 'params that differ' },
  ];
  if (c.params.length === 0) out.push({ kind: 'cells', cells: ['(none: every param is the same)', ...c.runs.map(() => '')] });
  for (const p of c.params) out.push({ kind: 'cells', cells: [p.path, ...p.values.map((v) => (v === undefined ? '—' : leafText(v)))] });
  out.push({ kind: 'section', title: 'metrics' });
  if (c.metrics.length === 0) out.push({ kind: 'cells', cells: ['(no metrics)', ...c.runs.map(() => '')] });
  for (const m of c.metrics) {
    const spec = METRICS.find((x) => x.name === m.metric)!;
    const name = metricName(m);
    out.push({ kind: 'cells', cells: [name, ...m.values.map((v) => (spec.percent ? formatPercent(v) : formatNumber(v)))] });
  }
  out.push({ kind: 'section', title: 'durations' });
  for (const d of c.durations) {
    const cells = d.values.map((v) => {
      if (!v) return '—';
      if (d.stage === 'total') return formatSeconds(v.seconds);
      return v.seconds !== undefined ? `${formatSeconds(v.seconds)}${v.status === 'failed' ? ' (failed)' : ''}` : v.status;
    });
    out.push({ kind: 'cells', cells: [d.stage === 'total' ? 'total (wall time)' : d.stage, ...cells] });
  }
  return out;
}

export function comparisonText(c: Comparison): string {
  const all = rows(c);
  const cellRows = all.filter((r): r is Extract<Row, { kind: 'cells' }> => r.kind === 'cells');
  const widths = [...c.runs, 'delta'].map((_, i) => Math.max(...cellRows.map((r) => r.cells[i + 1].length)));
  const first = Math.max(...cellRows.map((r) => r.cells[0].length));
  const lines = all.map((r) => {
    if (r.kind === 'section') return `── ${r.title} `.padEnd(first + widths.reduce((a, w) => a + w + 3, 0), '─');
    return [r.cells[0].padEnd(first), ...r.cells.slice(1).map((cell, i) => cell.padEnd(widths[i]))]
      .join('   ')
      .trimEnd();
  });
  return `${[...lines, ...c.notes.map((n) => `note: ${n}`)].join('\n')}\n`;
}

export function comparisonMarkdown(c: Comparison): string {
  const all = rows(c);
  const width = c.runs.length + 2;
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const out = [line(['', ...c.runs.map((r, i) => `run ${i + 1}`), 'Δ']), line(['---', ...c.runs.map(() => '---:'), '---:'])];
  for (const r of all) {
    if (r.kind === 'section') out.push(line([`**${escapeMarkdown(r.title)}**`, ...new Array(width - 1).fill('')]));
    else out.push(line(r.cells.map(escapeMarkdown)));
  }
  const notes = c.notes.map((n) => `> ${escapeMarkdown(n)}`);
  return `${[...out, ...(notes.length ? ['', ...notes] : [])].join('\n')}\n`;
}
