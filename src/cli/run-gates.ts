// The CI gates of one `pipe run`, settled before anything runs: the pipeline's gates.failIf and --fail-if, each
// naming a metric some stage reports (a misspelt one fails now, not after the training it gates), and the
// baseline run that `<metric> < baseline - 0.01` gates compare with, holding every metric they name.
import { gateCatalogue, parseGate, unknownGateMetric, type Gate } from '../config/gates.js';
import type { LoadedPipeline } from '../config/types.js';
import { PipeError } from '../errors.js';
import { readRun, readRunRecordFile } from '../runs/read.js';
import type { RunRecord } from '../runs/record.js';
import { findRun, looksLikePipelineFile } from './run-target.js';

/** The run relative gates compare with: its id and its metrics by gate name. */
export interface Baseline {
  run: string;
  values: Record<string, number>;
}

export async function settleGates(loaded: LoadedPipeline, pipelineFile: string, cliGates: Gate[], baselineTarget: string | undefined, storeRoot: string): Promise<{ gates: Gate[]; baseline?: Baseline }> {
  const catalogue = gateCatalogue(Object.values(loaded.stages));
  for (const gate of cliGates) {
    const unknown = unknownGateMetric(gate.metric, catalogue);
    if (unknown) throw new PipeError(`--fail-if '${gate.text}': ${unknown.message}`, { hint: unknown.hint });
  }
  const gates = [...(loaded.spec.gates?.failIf ?? []).map((text, i) => fileGate(text, `${pipelineFile} gates.failIf[${i}]`)), ...cliGates];
  const relative = gates.filter((g) => g.baseline);
  if (baselineTarget === undefined) {
    if (relative.length) {
      throw new PipeError(`gate '${relative[0].text}' (${relative[0].from}) compares with a baseline, and no --baseline was given`, {
        hint: "add --baseline <run id | pipeline file | run.json> (e.g. main's latest run.json saved by CI)",
      });
    }
    return { gates };
  }
  const record = await baselineRecord(baselineTarget, storeRoot);
  if (record.status !== 'ok' || !record.metrics) {
    throw new PipeError(`--baseline ${baselineTarget}: run ${record.id} ${record.status !== 'ok' ? `did not finish (${record.status})` : 'has no metrics'}`, {
      hint: "give a run that finished: 'pipe runs' lists them",
    });
  }
  const values = record.metrics.values;
  for (const gate of relative) {
    if (values[gate.metric] === undefined) {
      throw new PipeError(`--baseline ${baselineTarget}: run ${record.id} has no metric '${gate.metric}' for gate '${gate.text}' (${gate.from})`, {
        hint: `it has: ${Object.keys(values).join(', ') || 'no metrics'}`,
      });
    }
  }
  return { gates, baseline: { run: record.id, values } };
}

async function baselineRecord(target: string, storeRoot: string): Promise<RunRecord> {
  if (/\.json$/i.test(target)) return readRunRecordFile(target);
  if (looksLikePipelineFile(target)) return (await findRun(target)).record;
  return readRun(storeRoot, target);
}

/** A gate of the pipeline file: the loader checked its syntax and its metric. */
function fileGate(text: string, from: string): Gate {
  return parseGate(text, from) as Gate;
}
