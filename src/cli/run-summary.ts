// What `pipe run` does and says once its stages are done: read the run's headline metrics, check the CI
// gates, point <store>/latest/<pipeline>/ at the outputs, and end with the lines a user came for (where the
// report, metrics, summary and model are, relative to the working directory, and how good the model is).
import { relative } from 'node:path';
import { GATE_FAILED_EXIT_CODE, gateTrips, type Gate } from '../config/gates.js';
import { formatDuration } from '../duration.js';
import { printable } from '../printable.js';
import type { StageOutcome } from '../exec/executor.js';
import type { Plan } from '../plan/plan.js';
import { formatNumber, formatPercent } from '../report/format.js';
import { readRunMetrics } from '../report/run-metrics.js';
import { publishLatest, type LatestName } from '../runs/latest.js';
import type { RunRecord } from '../runs/record.js';
import { runDir } from '../runs/write.js';
import type { Baseline } from './run-gates.js';

export interface PublishedRun {
  /** Paths relative to the working directory, for people and for `--json`. */
  paths: {
    latest: Partial<Record<LatestName, string>>;
    outputs: Record<string, string>;
    /** Absent when the store is read-only (no record or log is kept). */
    record?: string;
    log?: string;
  };
}

const fromCwd = (path: string): string => relative(process.cwd(), path) || '.';

/**
 * Record the run's metrics and gate results in `record`, and publish its outputs under latest/ unless the store
 * is read-only (`writable: false`), where the run keeps nothing.
 */
export async function publishRun(storeRoot: string, record: RunRecord, gates: Gate[], baseline: Baseline | undefined, writable = true): Promise<PublishedRun> {
  const metrics = await readRunMetrics(storeRoot, record);
  record.metrics = metrics;
  if (gates.length) {
    record.gates = gates.map((gate) => {
      const value = metrics.values[gate.metric];
      const against = gate.baseline && baseline ? { baseline: { run: baseline.run, value: baseline.values[gate.metric] } } : {};
      const base = { text: gate.text, metric: gate.metric, from: gate.from, ...against };
      if (value === undefined) return { ...base, failed: true, error: `no metric '${gate.metric}' in this run` };
      return { ...base, value, failed: gateTrips(gate, value, against.baseline?.value) };
    });
  }
  const latest = writable ? await publishLatest(storeRoot, record) : {};
  const outputs: Record<string, string> = {};
  for (const [id, stage] of Object.entries(record.stages)) {
    for (const [name, path] of Object.entries(stage.outputs)) outputs[`${id}.${name}`] = fromCwd(`${storeRoot}/${path}`);
  }
  const dir = runDir(storeRoot, record.id);
  return {
    paths: {
      latest: Object.fromEntries(Object.entries(latest).map(([name, path]) => [name, fromCwd(path)])),
      outputs,
      ...(writable ? { record: fromCwd(`${dir}/run.json`), log: fromCwd(`${dir}/log.jsonl`) } : {}),
    },
  };
}

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
