// Runs side by side, as `pipe compare` prints them and a sweep ends with: the params that differ, the metrics,
// the durations; as text, Markdown or JSON.
import { printable } from '../printable.js';
import type { RunRecord } from '../runs/record.js';

export type ComparisonFormat = 'text' | 'json' | 'markdown';

/** The comparison of these runs as text, Markdown or JSON, runs best first on `sort` when given. */
export async function comparisonOutput(runs: { record: RunRecord; storeRoot: string }[], format: ComparisonFormat, sort?: string): Promise<string> {
  const { comparedRun } = await import('../report/run-metrics.js');
  const { compareRuns } = await import('../report/compare.js');
  const { sortComparison } = await import('../report/compare-sort.js');
  const compared = await Promise.all(runs.map(({ record, storeRoot }) => comparedRun(storeRoot, record)));
  let comparison = compareRuns(compared);
  if (sort) comparison = sortComparison(comparison, sort);
  if (format === 'json') return `${JSON.stringify(comparison, null, 2)}\n`;
  const { comparisonMarkdown, comparisonText } = await import('../report/compare-table.js');
  return printable(format === 'markdown' ? comparisonMarkdown(comparison) : comparisonText(comparison));
}
