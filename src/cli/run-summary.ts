// What `pipe run` says once its stages are done: the lines a user came for (where the report, metrics, summary
// and model are, relative to the working directory, and how good the model is), and which CI gates failed.
import { GATE_FAILED_EXIT_CODE } from '../config/gates.js';
import { formatDuration } from '../duration.js';
import { printable } from '../printable.js';
import type { StageOutcome } from '../exec/executor.js';
import type { Plan } from '../plan/plan.js';
import { formatNumber, formatPercent } from '../report/format.js';
import type { LatestName } from '../runs/latest.js';
import type { RunRecord } from '../runs/record.js';
import type { PublishedRun } from '../run/publish.js';

/** The exit code the gates give (0 when none failed), after saying on stderr which failed and why. */
export function checkGates(record: RunRecord): number {
  const results = record.gates ?? [];
  const unknown = results.filter((g) => g.error);
  if (unknown.length) {
    const names = Object.keys(record.metrics?.values ?? {});
    for (const g of unknown) process.stderr.write(`error: gate '${g.text}' (${g.from}): ${g.error}\n`);
    process.stderr.write(`hint: this run has: ${names.length ? names.join(', ') : 'no metrics'}\n`);
    return 2;
  }
  const failed = results.filter((g) => g.failed);
  for (const g of failed) process.stderr.write(`gate failed: ${g.text} (${g.from}): the value is ${formatGateValue(g.value)}${baselineNote(g)}\n`);
  return failed.length ? GATE_FAILED_EXIT_CODE : 0;
}

function baselineNote(g: NonNullable<RunRecord['gates']>[number]): string {
  return g.baseline ? `, the baseline's ${formatGateValue(g.baseline.value)} (run ${g.baseline.run})` : '';
}

function formatGateValue(value: number | undefined): string {
  return value === undefined ? '?' : String(Number(value.toPrecision(4)));
}

const LABELS: Record<LatestName, string> = {
  'report.html': 'report',
  'metrics.json': 'metrics',
  'summary.md': 'summary',
  model: 'model',
  'leakage.json': 'leakage',
  'run.json': 'run',
};

export function printRunSummary(plan: Plan, outcomes: Record<string, StageOutcome>, seconds: number, record: RunRecord, published?: PublishedRun): void {
  const all = Object.values(outcomes);
  const count = (status: string) => all.filter((r) => r.status === status).length;
  const remote = all.filter((r) => r.status === 'cached' && r.tier === 'remote').length;
  const parts = [`${count('ran')} ran`, `${count('cached')} cached${remote ? ` (${remote} from the remote cache)` : ''}`];
  for (const status of ['failed', 'skipped', 'interrupted']) if (count(status)) parts.push(`${count(status)} ${status}`);
  const out: string[] = ['', `${plan.pipeline.name}: ${all.length} stages: ${parts.join(', ')} in ${formatDuration(seconds)} · run ${record.id}`];
  const headline = record.metrics?.headline;
  if (headline) {
    out.push(
      `  ${headline.split} accuracy ${formatPercent(headline.accuracy)} · balanced accuracy ${formatPercent(headline.balancedAccuracy)} · ` +
        `macro F1 ${formatNumber(headline.macroF1)}`,
    );
  }
  const leakage = record.metrics?.leakage;
  if (leakage) out.push(`  leakage: ${leakage.leaky ? '⚠ ' : ''}${leakage.headline}`);
  if (published) {
    const order = Object.keys(LABELS);
    const links = (Object.entries(published.paths.latest) as [LatestName, string][])
      .filter(([name]) => name !== 'leakage.json')
      .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
    const width = Math.max(...links.map(([name]) => LABELS[name].length));
    for (const [name, path] of links) out.push(`  ${LABELS[name].padEnd(width)}  ${path}`);
  }
  for (const g of record.gates ?? []) {
    if (!g.error) out.push(`  gate ${g.failed ? 'FAILED' : 'passed'}: ${g.text} (${g.metric ?? 'value'} = ${formatGateValue(g.value)}${baselineNote(g)})`);
  }
  // The pipeline's name and class-derived text come from the user's files: escape control characters.
  process.stdout.write(printable(`${out.join('\n')}\n`));
}
