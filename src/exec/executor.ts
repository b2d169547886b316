// Execution: runs the stale stages of a plan, each as soon as its upstream stages are done (independent stages
// run concurrently). An Executor decides where a stage is built: the local one here, in this process, with
// buildIntoCache(): a hit in the artifact cache (local or remote), else the stage runs into a temporary entry
// that is moved into the store atomically on success. Others build elsewhere and walk the same graph with a
// StageBuilder of their own: bullmq/ on `pipe worker` processes through a Redis queue.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PipeError } from '../errors.js';
import { upstreamOf, type Plan, type PlannedStage } from '../plan/plan.js';
import { storeWriteError } from '../store/fs-utils.js';
import type { StageRecord } from '../runs/record.js';
import type { ArtifactCache, CacheTier, EntryExpectation } from '../store/artifact-cache.js';
import type { InputArtifact, PipelineInfo } from '../stage.js';
import { buildStageContext, inputArtifact } from './stage-context.js';

/** What the executor needs of the artifact cache (src/store/artifact-cache.ts). */
export type CacheForExecution = Pick<ArtifactCache, 'root' | 'lookup' | 'prefetch' | 'discard' | 'begin' | 'scratchDir' | 'clearScratch' | 'withLock' | 'touch'>;

// `worker`: the host of the queue worker that built or found it (runs with --queue).
export type StageOutcome =
  | { status: 'cached'; dir: string; seconds: number; summary?: Record<string, unknown>; tier: CacheTier; worker?: string }
  | { status: 'ran'; dir: string; seconds: number; summary?: Record<string, unknown>; worker?: string }
  | { status: 'failed'; error: unknown; seconds: number }
  | { status: 'skipped'; reason: string }
  | { status: 'interrupted'; seconds: number };

/** What a stage's cache entry holds: a remote entry of its key that holds something else is not used. */
export function entryExpectation(s: PlannedStage): EntryExpectation {
  return { type: s.stage.name, uses: s.uses, outputs: Object.values(s.stage.outputs).map((o) => o.file) };
}

/** Events for the progress UI. */
export interface ExecutionObserver {
  stageStarted?(id: string): void;
  stageProgress?(id: string, message: string): void;
  stageNote?(id: string, message: string): void;
  stageWaiting?(id: string, message: string): void;
  /** A queue worker (its host) took the stage. */
  stageWorker?(id: string, host: string): void;
  stageFinished?(id: string, outcome: StageOutcome): void;
  warn?(id: string, message: string): void;
}

/** What building one stage needs besides the stage itself. */
export interface BuildEnvironment {
  cache: CacheForExecution;
  log: Logger;
  signal: AbortSignal;
  observer?: ExecutionObserver;
}

/** Builds one stage of a plan into the artifact cache, given the folders of its upstream outputs. */
export type StageBuilder = (plan: Plan, id: string, upstreamDirs: Record<string, string>, env: BuildEnvironment & { force?: boolean }) => Promise<StageOutcome>;

/**
 * The job interface: build one stage instance (by id in a plan, so with its key and the pipeline's content)
 * into the artifact cache, given the folders of its upstream outputs. A cache hit (local, or remote moved
 * in) is used; else the stage runs into a temp entry that is committed (and pushed) on success. The local
 * executor below calls it for each stage; a worker taking stage jobs from a queue would call the same.
 */
export async function buildIntoCache(
  plan: Plan,
  id: string,
  upstreamDirs: Record<string, string>,
  env: BuildEnvironment & { force?: boolean },
): Promise<StageOutcome> {
  const { cache, log, observer } = env;
  const s = plan.stages[id];
  const onLockWait = (holder: { pid: number; host?: string; command?: string }): void => {
    const who = `process ${holder.pid}${holder.host ? ` on ${holder.host}` : ''}${holder.command ? ` (${holder.command})` : ''}`;
    observer?.stageWaiting?.(s.id, `waiting: ${who} is building this stage`);
    log.info({ stage: s.id, holder }, 'waiting for lock');
  };
  const cached = async (found: { dir: string; manifest: { summary?: Record<string, unknown> }; tier: CacheTier }): Promise<StageOutcome> => {
    await cache.touch(s.key);
    log.info({ stage: s.id, key: s.key, tier: found.tier }, 'cached');
    return { status: 'cached', dir: found.dir, seconds: 0, summary: found.manifest.summary, tier: found.tier };
  };
  if (env.force) return cache.withLock(s.key, onLockWait, () => runStage(plan, s, upstreamDirs, env));
  const found = await cache.lookup(s.key);
  if (found.status === 'hit') return cached(found);
  // Decide under the key's lock: another run may commit this entry at any moment until we hold it, so a
  // miss or a damaged entry seen before is only a hint. Remote fetches, discarding and rebuilding happen
  // under the lock.
  return cache.withLock(s.key, onLockWait, async () => {
    const again = await cache.lookup(s.key, { remote: true, expect: entryExpectation(s), signal: env.signal });
    if (again.status === 'hit') return cached(again);
    if (env.signal.aborted) return { status: 'interrupted', seconds: 0 };
    if (again.status === 'damaged') {
      // Warnings reach the user through the log (the CLI shows a stage's warnings in its view).
      log.warn({ stage: s.id, key: s.key, reason: again.reason }, `cached entry is damaged (${again.reason}); discarding it and running again`);
      await cache.discard(s.key);
    }
    return runStage(plan, s, upstreamDirs, env);
  });
}

/** What a stage may know about the pipeline: only what its key covers (see PipelineInfo). */
export function pipelineInfoFor(plan: Plan, id: string): PipelineInfo {
  const before = upstreamOf(plan, [id]);
  const upstream: PipelineInfo['upstream'] = {};
  for (const u of plan.order) {
    if (u === id || !before.has(u)) continue;
    const s = plan.stages[u];
    upstream[u] = { uses: s.uses, key: s.key, params: s.params };
  }
  return { name: plan.pipeline.name, backend: plan.pipeline.backend, upstream };
}

async function runStage(plan: Plan, s: PlannedStage, upstreamDirs: Record<string, string>, env: BuildEnvironment & { force?: boolean }): Promise<StageOutcome> {
  const { cache, signal, observer } = env;
  const pending = await cache.begin(s.key, { stage: s.id, uses: s.uses });
  const started = performance.now();
  const stageLog = env.log.child({ stage: s.id });
  try {
    // Forced means from scratch: a checkpoint left by an earlier attempt would otherwise be resumed.
    if (env.force) await cache.clearScratch(s.key);
    const inputs: Record<string, InputArtifact> = {};
    for (const [name, ref] of Object.entries(s.inputs)) inputs[name] = inputArtifact(upstreamDirs[ref.stage], plan.stages[ref.stage], ref.output);
    const ctx = buildStageContext({
      id: s.id,
      stage: s.stage,
      params: s.params,
      inputs,
      outDir: pending.dir,
      scratchDir: await cache.scratchDir(s.key),
      baseDir: plan.pipeline.dir,
      seed: plan.pipeline.seed,
      backend: plan.pipeline.backend.resolved,
      log: stageLog,
      onProgress: (message) => observer?.stageProgress?.(s.id, message),
      onNote: (message) => observer?.stageNote?.(s.id, message),
      signal,
      pipeline: pipelineInfoFor(plan, s.id),
    });
    stageLog.info({ key: s.key, params: s.params }, 'running');
    const summary = (await s.stage.run(ctx)) ?? undefined;
    if (signal.aborted) throw new Error('interrupted');
    await checkOutputs(s, pending.dir);
    if (env.force) await cache.discard(s.key);
    await pending.commit({ summary, meta: { keyParts: s.keyParts, pipeline: plan.pipeline.name } });
    const seconds = (performance.now() - started) / 1000;
    stageLog.info({ seconds }, 'done');
    const stored = await cache.lookup(s.key);
    if (stored.status !== 'hit') throw new Error(`stored entry for '${s.id}' cannot be read back (${stored.status})`);
    return { status: 'ran', dir: stored.dir, seconds, summary };
  } catch (error) {
    await pending.abort();
    if (signal.aborted) return { status: 'interrupted', seconds: (performance.now() - started) / 1000 };
    return { status: 'failed', error, seconds: (performance.now() - started) / 1000 };
  }
}

export interface ExecuteOptions {
  plan: Plan;
  cache: CacheForExecution;
  /** Stages to consider; the others are left alone (not run, not looked up). */
  selected: Set<string>;
  /** Stages to run even when cached. */
  force: Set<string>;
  log: Logger;
  signal: AbortSignal;
  observer?: ExecutionObserver;
  /** Called whenever a stage's status changes, so the caller can persist the run record. */
  onRecord?(id: string, record: StageRecord): void;
}

export interface ExecutionResult {
  outcomes: Record<string, StageOutcome>;
  records: Record<string, StageRecord>;
}

/** Where a run's stages are built: here (localExecutor), or elsewhere (bullmq/: by queue workers). */
export interface Executor {
  /** Builds the selected stages of the plan, each once its upstream stages are done. */
  execute(options: ExecuteOptions): Promise<ExecutionResult>;
  /** Lets go of what it holds (connections); after execute. */
  close(): Promise<void>;
}

/** Builds every stage in this process. */
export const localExecutor: Executor = {
  execute: (options) => walkPlan(options, buildIntoCache),
  close: async () => {},
};

/** Runs the selected stages of a plan, each as soon as its upstream stages are done, through `build`. */
export async function walkPlan(options: ExecuteOptions, build: StageBuilder): Promise<ExecutionResult> {
  const { plan, cache, selected, force, log, signal, observer } = options;
  const outcomes: Record<string, StageOutcome> = {};
  const records: Record<string, StageRecord> = {};
  const promises = new Map<string, Promise<StageOutcome>>();

  const record = (s: PlannedStage, outcome: StageOutcome): StageRecord => {
    const dir = 'dir' in outcome ? outcome.dir : undefined;
    const rec: StageRecord = {
      uses: s.uses,
      key: s.key,
      status: outcome.status,
      seconds: 'seconds' in outcome ? outcome.seconds : 0,
      params: s.params,
      inputs: Object.fromEntries(Object.entries(s.inputs).map(([n, r]) => [n, r.stage])),
      outputs: dir
        ? Object.fromEntries(Object.entries(s.stage.outputs).map(([name, spec]) => [name, toStorePath(cache.root, join(dir, spec.file))]))
        : {},
      keyParts: { ...s.keyParts },
      filePaths: s.filePaths,
    };
    if (outcome.status === 'cached' && outcome.tier === 'remote') rec.cachedFrom = 'remote';
    if ((outcome.status === 'cached' || outcome.status === 'ran') && outcome.worker) rec.worker = outcome.worker;
    if ('summary' in outcome && outcome.summary) rec.summary = outcome.summary;
    if (outcome.status === 'failed') rec.error = messageOf(outcome.error);
    if (outcome.status === 'skipped') rec.error = outcome.reason;
    return rec;
  };

  const finish = (s: PlannedStage, outcome: StageOutcome): StageOutcome => {
    if (outcome.status === 'failed') outcome = { ...outcome, error: storeWriteError(outcome.error, cache.root) ?? outcome.error };
    outcomes[s.id] = outcome;
    records[s.id] = record(s, outcome);
    options.onRecord?.(s.id, records[s.id]);
    observer?.stageFinished?.(s.id, outcome);
    return outcome;
  };

  const runOne = async (id: string): Promise<StageOutcome> => {
    const s = plan.stages[id];
    const upstream = await Promise.all(s.upstream.map((u) => promiseOf(u)));
    const blocked = s.upstream.findIndex((_, i) => !isDone(upstream[i]));
    if (blocked >= 0) {
      const name = s.upstream[blocked];
      const why = selected.has(name) ? 'did not finish' : 'is not in the cache (run it first, or drop --only)';
      return finish(s, { status: 'skipped', reason: `upstream stage '${name}' ${why}` });
    }
    if (signal.aborted) return finish(s, { status: 'skipped', reason: 'run interrupted' });
    await prefetches.get(id);
    if (signal.aborted) return finish(s, { status: 'skipped', reason: 'run interrupted' });
    observer?.stageStarted?.(id);
    const upstreamDirs = Object.fromEntries(s.upstream.map((u, i) => [u, (upstream[i] as { dir: string }).dir]));
    try {
      return finish(s, await build(plan, id, upstreamDirs, { cache, log, signal, observer, force: force.has(id) }));
    } catch (error) {
      if (signal.aborted) return finish(s, { status: 'interrupted', seconds: 0 });
      log.error({ stage: id, err: error }, 'stage failed');
      return finish(s, { status: 'failed', error, seconds: 0 });
    }
  };

  const promiseOf = (id: string): Promise<StageOutcome> => {
    let p = promises.get(id);
    if (!p) {
      p = selected.has(id) ? runOne(id) : lookupOnly(id);
      promises.set(id, p);
    }
    return p;
  };

  // A stage outside the selection (e.g. upstream of `--only`) must already be in the cache (either tier).
  const lookupOnly = async (id: string): Promise<StageOutcome> => {
    const s = plan.stages[id];
    const found = await cache.withLock(s.key, () => undefined, () => cache.lookup(s.key, { remote: true, expect: entryExpectation(s), signal }));
    if (found.status === 'hit') return { status: 'cached', dir: found.dir, seconds: 0, summary: found.manifest.summary, tier: found.tier };
    return { status: 'skipped', reason: signal.aborted ? 'run interrupted' : `not selected and not in the cache` };
  };

  // Entries in the remote tier come down all at once, while the stages wait for their upstream.
  const prefetches = new Map(
    plan.order
      .filter((id) => selected.has(id) && !force.has(id))
      .map((id) => [id, cache.prefetch(plan.stages[id].key, { expect: entryExpectation(plan.stages[id]), signal }).catch(() => undefined)]),
  );
  await Promise.all(plan.order.filter((id) => selected.has(id)).map(promiseOf));
  return { outcomes, records };
}
function isDone(o: StageOutcome): boolean {
  return o.status === 'cached' || o.status === 'ran';
}

async function checkOutputs(s: PlannedStage, dir: string): Promise<void> {
  for (const [name, spec] of Object.entries(s.stage.outputs)) {
    try {
      await stat(join(dir, spec.file));
    } catch {
      throw new PipeError(`stage '${s.id}' (${s.uses}) finished without writing its output '${name}' (${spec.file})`, {
        exitCode: 1,
        hint: `the stage must write it to ctx.output('${name}')`,
      });
    }
  }
}

function toStorePath(root: string, path: string): string {
  return path.startsWith(root) ? path.slice(root.length + 1).split('\\').join('/') : path;
}

export function messageOf(error: unknown): string {
  if (error instanceof PipeError) return error.message;
  return error instanceof Error ? error.message : String(error);
}
