// summary.md: the short form of the report for a CI job summary (e.g. appended to $GITHUB_STEP_SUMMARY):
// headline metrics, the leakage verdict, the comparison with a reference, and class counts.
import { totalRows } from './class-counts.js';
import { escapeMarkdown } from './escape.js';
import { formatCount, formatNumber, formatPercent, formatPointDelta } from './format.js';
import { trainedOn } from './history.js';
import { leakageVerdict } from './leakage.js';
import { headlineSplit, inferredIn } from './metrics.js';
import type { ReportData } from './report-data.js';

/** A GFM table; cells are escaped here. `align` marks right-aligned (numeric) columns. */
export function markdownTable(header: string[], rows: string[][], numeric: boolean[] = []): string {
  const line = (cells: string[]) => `| ${cells.map(escapeMarkdown).join(' | ')} |`;
  const rule = `|${header.map((_, i) => (numeric[i] ? ' ---: ' : ' --- ')).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

export function renderMarkdown(data: ReportData): string {
  const out: string[] = [`## ${escapeMarkdown(data.title)}`, ''];
  const pipeline = data.pipeline;
  if (pipeline) {
    const stages = Object.keys(pipeline.upstream).length;
    out.push(`Pipeline **${escapeMarkdown(pipeline.name)}** · backend ${escapeMarkdown(pipeline.backend.resolved)} · built from ${stages} ${stages === 1 ? 'stage' : 'stages'}`, '');
  }
  if (data.leakage || data.protocol?.length) {
    const v = leakageVerdict(data.leakage, data.protocol);
    out.push(`> ${v.leaky ? '⚠️' : '✅'} **${escapeMarkdown(v.headline)}.** ${escapeMarkdown(v.detail)}`, '');
  }
  const d = data.deduplication;
  if (d) {
    const removed = Object.values(d.removedBySplit).reduce((a, b) => a + b, 0);
    out.push(`Deduplicated: ${formatCount(removed)} copies of images in other splits removed from ${escapeMarkdown(d.from.join(', '))} (${formatCount(d.rowsAfter)} of ${formatCount(d.rowsBefore)} rows kept).`, '');
  }
  for (const step of data.classCounts?.steps ?? []) {
    if (step.splits === 'all') {
      out.push('> ⚠️ **Resampled before splitting:** copies of one image can be in both train and test, so test accuracy is inflated.', '');
    }
  }
  if (data.metrics) {
    out.push('### Metrics', '');
    out.push(
      markdownTable(
        ['split', 'accuracy', 'balanced accuracy', 'macro F1', 'loss', 'rows'],
        data.metrics.splits.map((s) => [s.split, formatPercent(s.accuracy), formatPercent(s.balancedAccuracy), formatNumber(s.macroF1), formatNumber(s.loss), formatCount(s.count)]),
        [false, true, true, true, true, true],
      ),
      '',
    );
    if (inferredIn(data.metrics)) out.push(escapeMarkdown(inferredIn(data.metrics)), '');
    const lead = headlineSplit(data.metrics);
    const ref = lead && data.reference?.splits.find((s) => s.split === lead.split);
    if (lead && ref) {
      out.push(`### ${escapeMarkdown(data.label)} vs ${escapeMarkdown(data.referenceLabel)} (${escapeMarkdown(lead.split)})`, '');
      out.push(
        markdownTable(
          ['metric', data.label, data.referenceLabel, 'difference'],
          [
            ['accuracy', formatPercent(lead.accuracy), formatPercent(ref.accuracy), formatPointDelta(ref.accuracy, lead.accuracy)],
            ['balanced accuracy', formatPercent(lead.balancedAccuracy), formatPercent(ref.balancedAccuracy), formatPointDelta(ref.balancedAccuracy, lead.balancedAccuracy)],
            ['macro F1', formatNumber(lead.macroF1), formatNumber(ref.macroF1), ref.macroF1 !== undefined && lead.macroF1 !== undefined ? formatNumber(ref.macroF1 - lead.macroF1) : '—'],
          ],
          [false, true, true, true],
        ),
        '',
      );
    }
  }
  if (data.history?.length) {
    const last = data.history[data.history.length - 1];
    out.push(
      `Training: ${data.history.length} epochs; last epoch train accuracy ${formatPercent(last.accuracy)}, validation accuracy ${formatPercent(last.valAccuracy)}.` +
        (data.training && trainedOn(data.training) ? ` ${escapeMarkdown(trainedOn(data.training))}` : ''),
      '',
    );
  }
  const steps = data.classCounts?.steps ?? [];
  const last = steps[steps.length - 1];
  const tables = last?.tables ?? data.classCounts?.current ?? [];
  if (tables.length) {
    out.push(last ? `### Class counts (${escapeMarkdown(last.method)}, strategy ${escapeMarkdown(last.strategy)})` : '### Class counts', '');
    const classes = [...new Set(tables.flatMap((t) => t.classes))];
    const header = ['class'];
    for (const t of tables) header.push(...(t.before ? [`${t.group} before`, `${t.group} after`] : [t.group]));
    const rows = classes.map((c) => {
      const row = [c];
      for (const t of tables) {
        const k = t.classes.indexOf(c);
        if (t.before) row.push(formatCount(k < 0 ? undefined : t.before[k]));
        row.push(formatCount(k < 0 ? undefined : t.after[k]));
      }
      return row;
    });
    const totals = ['total'];
    for (const t of tables) {
      const sum = totalRows(t);
      if (t.before) totals.push(formatCount(sum.before));
      totals.push(formatCount(sum.after));
    }
    rows.push(totals);
    out.push(markdownTable(header, rows, header.map((_, i) => i > 0)), '');
  }
  if (data.notes.length) {
    out.push('<details><summary>Not shown</summary>', '', ...data.notes.map((n) => `- ${escapeMarkdown(n)}`), '', '</details>', '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
