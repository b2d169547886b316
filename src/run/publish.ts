// What a finished run keeps besides its record: its headline metrics and gate results (in the record), and
// <store>/latest/<pipeline>/ pointing at its outputs, with the paths of it all relative to the working directory.
import { relative } from 'node:path';
import { gateTrips, type Gate } from '../config/gates.js';
import { readRunMetrics } from '../report/run-metrics.js';
import { publishLatest, type LatestName } from '../runs/latest.js';
import type { RunRecord } from '../runs/record.js';
import { runDir } from '../runs/write.js';
import type { Baseline } from './gates.js';

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
