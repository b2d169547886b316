// The CI gates of one `pipe run`, settled before anything runs: the pipeline's gates.failIf and --fail-if, each
// naming a metric some stage reports (a misspelt one fails now, not after the training it gates), and the
// baseline run that `<metric> < baseline - 0.01` gates compare with, holding every metric they name.
import { gateCatalogue, parseGate, unknownGateMetric, type Gate } from '../config/gates.js';
import type { LoadedPipeline } from '../config/types.js';
import { PipeError } from '../errors.js';
import { readRun, readRunRecordFile } from '../runs/read.js';
import type { RunRecord } from '../runs/record.js';
import { join, relative as relativePath } from 'node:path';
import { readRunMetrics } from '../report/run-metrics.js';
import type { Store } from '../store/open-store.js';
import type { RemoteCacheTier } from '../store/remote/protocol.js';
import { findRun, looksLikePipelineFile } from './run-target.js';

/** The run relative gates compare with: its id and its metrics by gate name. */
export interface Baseline {
  run: string;
  values: Record<string, number>;
}

export async function settleGates(loaded: LoadedPipeline, pipelineFile: string, cliGates: Gate[], baselineTarget: string | undefined, store: Store): Promise<{ gates: Gate[]; baseline?: Baseline }> {
  const catalogue = gateCatalogue(Object.values(loaded.stages));
  for (const gate of cliGates) {
    const unknown = unknownGateMetric(gate.metric, catalogue);
    if (unknown) throw new PipeError(`--fail-if '${gate.text}': ${unknown.message}`, { hint: unknown.hint });
  }
  const gates = [...(loaded.spec.gates?.failIf ?? []).map((text, i) => fileGate(text, `${pipelineFile} gates.failIf[${i}]`)), ...cliGates];
  const relativeGates = gates.filter((g) => g.baseline);
  if (baselineTarget === undefined) {
    if (relativeGates.length) {
      throw new PipeError(`gate '${relativeGates[0].text}' (${relativeGates[0].from}) compares with a baseline, and no --baseline was given`, {
        hint: "add --baseline <run id | pipeline file | run.json | remote> (remote: the latest run that pushed to the remote cache, e.g. main's)",
      });
    }
    return { gates };
  }
  const baseline = baselineTarget === REMOTE_BASELINE ? await remoteBaseline(store, loaded, relativeGates) : baselineOf(await baselineRecord(baselineTarget, store.root), baselineTarget);
  const { run, values } = baseline;
  for (const gate of relativeGates) {
    if (values[gate.metric] === undefined) {
      throw new PipeError(`--baseline ${baselineTarget}: run ${run} has no metric '${gate.metric}' for gate '${gate.text}' (${gate.from})`, {
        hint: `it has: ${Object.keys(values).join(', ') || 'no metrics'}`,
      });
    }
  }
  return { gates, baseline };
}

function baselineOf(record: RunRecord, target: string): Baseline {
  if (record.status !== 'ok' || !record.metrics) {
    throw new PipeError(`--baseline ${target}: run ${record.id} ${record.status !== 'ok' ? `did not finish (${record.status})` : 'has no metrics'}`, {
      hint: "give a run that finished: 'pipe runs' lists them",
    });
  }
  return { run: record.id, values: record.metrics.values };
}

/** `--baseline remote`: the latest run the remote cache recorded of this pipeline as it is. */
export const REMOTE_BASELINE = 'remote';

/**
 * The latest finished run of this pipeline, its file as it is (no --set, no variant), among the runs that pushed
 * to the remote cache: where only the main branch writes there, main's latest run. Its metrics are read from the
 * entries it used, fetched like any cached stage (verified, signed where a key is set).
 */
async function remoteBaseline(store: Store, loaded: LoadedPipeline, gates: Gate[]): Promise<Baseline> {
  const remote = store.cache.remote as RemoteCacheTier | undefined;
  if (!remote) {
    throw new PipeError('--baseline remote: no remote cache is configured', {
      hint: 'set PIPE_REMOTE_CACHE=s3://bucket/prefix or file:///path (or cache: { remote: } in the pipeline), or give --baseline a run id or a run.json',
    });
  }
  const name = loaded.spec.name;
  const runs = await remote.runs().catch((err: unknown) => {
    throw new PipeError(`--baseline remote: the remote cache ${remote.location} cannot be read: ${err instanceof Error ? err.message : String(err)}`, {
      hint: 'check PIPE_REMOTE_CACHE, its endpoint and credentials (a job without credentials cannot read a private bucket), or give --baseline a run.json',
    });
  });
  const outlines = runs
    .flatMap((r) => (r.outline ? [r.outline] : []))
    .filter((o) => o.status === 'ok' && o.asItIs && !o.sweep && o.pipeline.name === name)
    .sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const latest = outlines[0];
  if (!latest) {
    throw new PipeError(`--baseline remote: the remote cache ${remote.location} holds no finished run of pipeline '${name}' as it is`, {
      hint: 'a run records itself there when it pushes (PIPE_REMOTE_CACHE_WRITE=1, e.g. on the main branch); run it so once, or give --baseline a run id or a run.json',
    });
  }
  // Only the entries that hold what the gates read: metrics and leakage files, and the summaries of stages they name.
  const named = new Set(gates.map((g) => g.metric.split('.')[0]));
  const reads = (id: string) =>
    named.has(id) || Object.values(loaded.stages[id]?.stage.outputs ?? {}).some((o) => o.kind === 'metrics' || o.kind === 'leakage');
  const stages: RunRecord['stages'] = {};
  for (const [id, { key }] of Object.entries(latest.stages)) {
    if (!reads(id)) continue;
    const found = await store.cache.withLock(key, () => {}, () => store.cache.lookup(key, { remote: true }));
    if (found.status !== 'hit') continue;
    const files = found.manifest.files.map((f) => f.path).filter((path) => !path.includes('/'));
    stages[id] = {
      uses: loaded.stages[id]?.uses ?? '?',
      key,
      status: 'cached',
      seconds: 0,
      params: {},
      inputs: {},
      outputs: Object.fromEntries(files.map((file) => [file, relativePath(store.root, join(found.dir, file))])),
      ...(found.manifest.summary ? { summary: found.manifest.summary } : {}),
    };
  }
  return { run: latest.id, values: (await readRunMetrics(store.root, { stages })).values };
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
