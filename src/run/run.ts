// What `pipe run` does, given its options: open the pipeline (or each variant of its sweep) and settle its gates
// before anything runs; then say what would run (--dry-run), run the sweep (sweep.ts), or run the stages: the run
// record and its JSON log, Ctrl-C and SIGTERM, the executor (this process, or a queue's workers), the pushes to
// the remote cache, and publishing the outputs under latest/. What happens is told through RunEvents; what the
// run came to is the result, for the caller to print.
import { dirname, relative } from 'node:path';
import { pino } from 'pino';
import type { LoadedPipeline } from '../config/types.js';
import { PipeError } from '../errors.js';
import { localExecutor, type Executor, type StageOutcome } from '../exec/executor.js';
import { openVariants } from '../exec/open-pipeline.js';
import { upstreamOf, type Plan } from '../plan/plan.js';
import { previousKeyParts, stageStates, type StageState } from '../plan/staleness.js';
import { gitState, hostName, pipeVersion } from '../runs/provenance.js';
import { outlineOf } from '../runs/read.js';
import type { RunRecord } from '../runs/record.js';
import { newRunId } from '../runs/write.js';
import type { ArtifactCache } from '../store/artifact-cache.js';
import { hostTag } from '../owner.js';
import type { Store } from '../store/open-store.js';
import { settleGates } from './gates.js';
import type { RunDisplay, RunEvents, RunOptions } from './options.js';
import { publishRun, type PublishedRun } from './publish.js';
import { runSweep, sweepRunFromEnv, type SweepPlan, type SweepResult } from './sweep.js';

/** `--dry-run`: each selected stage's state, and whether it would run. */
export interface DryRun {
  kind: 'dry-run';
  pipeline: string;
  stages: (StageState & { wouldRun: boolean })[];
  forced: Set<string>;
}

/** A run that ran (or was stopped): its record, as saved, and how each stage ended. */
export interface FinishedRun {
  kind: 'run';
  plan: Plan;
  record: RunRecord;
  outcomes: Record<string, StageOutcome>;
  /** From the first stage's start to the run's publishing. */
  seconds: number;
  /** Absent unless the run finished ok. */
  published?: PublishedRun;
}

export type RunResult = DryRun | FinishedRun | SweepPlan | SweepResult;

export async function runPipeline(o: RunOptions, events: RunEvents = {}): Promise<RunResult> {
  const { store, variants } = await openVariants(o.file, { sets: o.sets, sweeps: o.sweeps, variant: o.variant, backend: o.backend });
  // Before anything runs, a sweep's variants included: the variants differ only in params.
  const { gates, baseline } = await settleGates(variants[0].loaded, relative(process.cwd(), variants[0].loaded.file), o.failIf, o.baseline, store);
  if (variants[0].name !== undefined && o.variant === undefined) return runSweep(o, variants, store, events);
  const [{ loaded, plan, name: variant, sets: variantSets }] = variants;
  const sweepRun = variant === undefined ? undefined : sweepRunFromEnv();
  const selected = selection(plan, o);
  const force = new Set(o.force === 'all' ? plan.order : o.force);
  const backend = plan.pipeline.backend;

  if (o.dryRun) {
    const local = store.cache.local;
    const states = await stageStates(plan, (k) => local.lookup(k), previousKeyParts(await local.manifests(), plan.pipeline.name));
    const stages = states.filter((s) => selected.has(s.id)).map((s) => ({ ...s, wouldRun: force.has(s.id) || !s.cached }));
    return { kind: 'dry-run', pipeline: plan.pipeline.name, stages, forced: force };
  }

  const runId = newRunId();
  // The checkout of the pipeline file, not of the working directory: that is the code the run ran.
  const git = await gitState(dirname(loaded.file));
  const record: RunRecord = {
    id: runId,
    pipeline: { name: plan.pipeline.name, file: relative(process.cwd(), loaded.file), path: relative(store.root, loaded.file) },
    ...(variant === undefined ? {} : { sweep: { ...sweepRun, variant, sets: variantSets } }),
    ...(o.name === undefined ? {} : { name: o.name }),
    ...(o.tags.length ? { tags: o.tags } : {}),
    ...(git ? { git } : {}),
    host: hostName(),
    pipeVersion: pipeVersion(),
    startedAt: new Date().toISOString(),
    status: 'running',
    owner: { pid: process.pid, host: hostTag() },
    seed: plan.pipeline.seed,
    backend,
    argv: o.commandLine,
    stages: {},
  };
  // A read-only store (a CI cache restored read-only, a shared mount) still serves cached stages: the run then
  // keeps no record or log, says so once, and a stage that has to run fails saying where it could not write.
  const readOnly = await store.cache.local.writeProblem();
  if (readOnly) events.readOnlyStore?.(store.root, `${readOnly.code}`);
  const saveRecord = () => (readOnly ? Promise.resolve() : store.runs.write(record));
  // Stage warnings go to the log and, as they happen, to what shows the stages.
  let display: RunDisplay | undefined;
  const warnings = {
    write(line: string) {
      const { stage, msg, level } = JSON.parse(line) as { stage?: string; msg?: string; level?: number };
      if (!stage || !msg || level !== pino.levels.values.warn) return; // failures are reported on their own
      display?.observer.warn?.(stage, msg);
    },
  };
  const logFile = readOnly ? undefined : pino.destination({ dest: store.runs.logFile(runId), sync: true, mkdir: true });
  const levels = pino.levels.values;
  const log = pino(
    { level: (levels[o.logLevel] ?? Infinity) < levels.warn ? o.logLevel : 'warn', base: { run: runId }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream([...(logFile ? [{ level: o.logLevel as pino.Level, stream: logFile }] : []), { level: 'warn', stream: warnings }]),
  );
  log.info({ pipeline: record.pipeline, backend, argv: o.commandLine }, 'run started');
  await saveRecord();

  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    log.warn({ signal }, 'interrupted');
    events.interrupted?.(signal);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const order = plan.order.filter((id) => selected.has(id));
  display = events.display?.(order.map((id) => ({ id, uses: plan.stages[id].uses, upstream: plan.stages[id].upstream })));
  let saving = Promise.resolve();
  const started = performance.now();
  const executor = await executorFor(o, { run: runId, store, loaded, variantSets });
  const result = await executor.execute({
    plan,
    cache: store.cache,
    selected,
    force,
    log,
    signal: abort.signal,
    observer: display?.observer,
    onRecord: (id, stageRecord) => {
      record.stages[id] = stageRecord;
      saving = saving.then(saveRecord);
    },
  });
  await display?.done;
  await executor.close();
  await waitForPushes(store.cache, abort.signal, events);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  const failed = Object.values(result.outcomes).some((r) => r.status === 'failed');
  record.status = abort.signal.aborted ? 'interrupted' : failed ? 'failed' : 'ok';
  record.finishedAt = new Date().toISOString();
  // Keep the record in pipeline order.
  record.stages = Object.fromEntries(plan.order.filter((id) => result.records[id]).map((id) => [id, result.records[id]]));
  await saving;
  await saveRecord();
  // A stopped run says nothing more to the remote: the user asked it to end, and the remote may be what holds it.
  if (!abort.signal.aborted) await store.cache.recordRun(outlineOf(record));
  log.info({ status: record.status, seconds: (performance.now() - started) / 1000 }, 'run finished');
  log.flush();

  const published = record.status === 'ok' ? await publishRun(store.root, record, gates, baseline, !readOnly) : undefined;
  if (published) await saveRecord();
  return { kind: 'run', plan, record, outcomes: result.outcomes, seconds: (performance.now() - started) / 1000, published };
}

/**
 * Where the stages are built: in this process, or with a queue on `pipe worker` processes (bullmq, loaded only
 * then). A Kubernetes executor would be chosen here too.
 */
async function executorFor(
  o: RunOptions,
  r: { run: string; store: Store; loaded: LoadedPipeline; variantSets: string[] },
): Promise<Executor> {
  if (!o.queue) return localExecutor;
  const { bullmqExecutor } = await import('../exec/bullmq/executor.js');
  const { loaded } = r;
  return bullmqExecutor({
    url: o.queue,
    run: r.run,
    pipeline: { file: relative(process.cwd(), loaded.file), content: loaded.source.text, sets: [...o.sets, ...r.variantSets], backend: o.backend },
    runsOn: Object.fromEntries(Object.entries(loaded.spec.stages).map(([id, s]) => [id, s['runs-on']])),
    cache: r.store.cache,
  });
}

function checkStageNames(plan: Plan, names: string[], flag: string): void {
  for (const name of names) {
    if (!plan.stages[name]) {
      throw new PipeError(`${flag} ${name}: no stage '${name}' in pipeline '${plan.pipeline.name}'`, {
        hint: `stages: ${plan.order.join(', ')}`,
      });
    }
  }
}

function selection(plan: Plan, o: RunOptions): Set<string> {
  checkStageNames(plan, o.only, '--only');
  checkStageNames(plan, o.until ? [o.until] : [], '--until');
  checkStageNames(plan, o.force === 'all' ? [] : o.force, '--force');
  if (o.only.length) return new Set(o.only);
  if (o.until) return upstreamOf(plan, [o.until]);
  return new Set(plan.order);
}

/** The run's pushes to the remote cache went on in the background; the run waits for them and says so. */
async function waitForPushes(cache: ArtifactCache, signal: AbortSignal, events: RunEvents): Promise<void> {
  const remote = cache.remote;
  if (!remote?.writable) return;
  const say = (line: string) => events.uploads?.(line);
  const waiting = cache.pendingPushes;
  if (waiting > 0) say(`waiting for ${waiting} ${waiting === 1 ? 'upload' : 'uploads'} to the remote cache ${remote.location}…`);
  // An interrupted run does not wait for uploads: Ctrl-C or SIGTERM cancels them (no half entry is left).
  const report = await cache.flush(signal);
  const parts = [`${report.pushed.length} pushed`];
  if (report.present.length) parts.push(`${report.present.length} already there`);
  if (report.failed.length) parts.push(`${report.failed.length} not pushed`);
  if (report.pushed.length + report.present.length + report.failed.length > 0) say(`remote cache ${remote.location}: ${parts.join(', ')}`);
}
