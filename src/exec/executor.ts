// Execution: runs the stale stages of a plan, each as soon as its upstream stages are done (independent stages
// run concurrently), each into a temporary entry that is moved into the store atomically on success.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { PipeError } from '../errors.js';
import type { Plan, PlannedStage } from '../plan/plan.js';
import type { StageRecord } from '../runs/record.js';
import type { InputArtifact, RunInfo, StageContext } from '../stage.js';

/** What the executor needs of the artifact store (src/store/store.ts provides it). */
export interface StoreForExecution {
  readonly root: string;
  lookup(key: string): Promise<
    | { status: 'hit'; dir: string; manifest: { summary?: Record<string, unknown> } }
    | { status: 'miss' }
    | { status: 'damaged'; reason: string }
  >;
  discard(key: string): Promise<void>;
  begin(key: string, info: { stage: string; uses: string }): Promise<{
    dir: string;
    commit(extra: { summary?: Record<string, unknown>; meta?: Record<string, unknown> }): Promise<unknown>;
    abort(): Promise<void>;
  }>;
  scratchDir(key: string): Promise<string>;
  withLock<T>(key: string, onWait: (holder: { pid: number; host?: string; since?: string; command?: string }) => void, fn: () => Promise<T>): Promise<T>;
  touch(key: string): Promise<void>;
}

export type StageOutcome =
  | { status: 'cached' | 'ran'; dir: string; seconds: number; summary?: Record<string, unknown> }
  | { status: 'failed'; error: unknown; seconds: number }
  | { status: 'skipped'; reason: string }
  | { status: 'interrupted'; seconds: number };

/** Events for the progress UI. */
export interface ExecutionObserver {
  stageStarted?(id: string): void;
  stageProgress?(id: string, message: string): void;
  stageWaiting?(id: string, message: string): void;
  stageFinished?(id: string, outcome: StageOutcome): void;
  warn?(id: string, message: string): void;
}

export interface ExecuteOptions {
  plan: Plan;
  store: StoreForExecution;
  /** Stages to consider; the others are left alone (not run, not looked up). */
  selected: Set<string>;
  /** Stages to run even when cached. */
  force: Set<string>;
  backend: { requested: string; resolved: string };
  log: Logger;
  signal: AbortSignal;
  run: Omit<RunInfo, 'stages' | 'backend'>;
  observer?: ExecutionObserver;
  /** Called whenever a stage's status changes, so the caller can persist the run record. */
  onRecord?(id: string, record: StageRecord): void;
}

export interface ExecutionResult {
  outcomes: Record<string, StageOutcome>;
  records: Record<string, StageRecord>;
}

export async function execute(options: ExecuteOptions): Promise<ExecutionResult> {
  const { plan, store, selected, force, log, signal, observer } = options;
  const outcomes: Record<string, StageOutcome> = {};
  const records: Record<string, StageRecord> = {};
  const runInfo: RunInfo = { ...options.run, stages: {}, backend: options.backend };
  for (const id of plan.order) {
    const s = plan.stages[id];
    runInfo.stages[id] = { uses: s.uses, status: 'pending', key: s.key, params: s.params };
  }
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
        ? Object.fromEntries(
            Object.entries(s.stage.outputs).map(([name, spec]) => [name, toStorePath(store.root, join(dir, spec.file))]),
          )
        : {},
      keyParts: { ...s.keyParts },
      filePaths: s.filePaths,
    };
    if ('summary' in outcome && outcome.summary) rec.summary = outcome.summary;
    if (outcome.status === 'failed') rec.error = messageOf(outcome.error);
    if (outcome.status === 'skipped') rec.error = outcome.reason;
    return rec;
  };

  const finish = (s: PlannedStage, outcome: StageOutcome): StageOutcome => {
    outcomes[s.id] = outcome;
    records[s.id] = record(s, outcome);
    const info = runInfo.stages[s.id];
    info.status = outcome.status === 'interrupted' ? 'failed' : outcome.status;
    if ('seconds' in outcome) info.seconds = outcome.seconds;
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
    observer?.stageStarted?.(id);
    try {
      return finish(s, await cachedOrRun(s, upstream));
    } catch (error) {
      if (signal.aborted) return finish(s, { status: 'interrupted', seconds: 0 });
      log.error({ stage: id, err: error }, 'stage failed');
      return finish(s, { status: 'failed', error, seconds: 0 });
    }
  };

  const cachedOrRun = async (s: PlannedStage, upstream: StageOutcome[]): Promise<StageOutcome> => {
    if (force.has(s.id)) return store.withLock(s.key, (holder) => onLockWait(s, holder), () => runStage(s, upstream));
    const found = await store.lookup(s.key);
    if (found.status === 'hit') return cachedOutcome(s, found);
    // Decide under the key's lock: another run may commit this entry at any moment until we hold it, so a
    // miss or a damaged entry seen before is only a hint. Discarding and rebuilding happen under the lock.
    return store.withLock(
      s.key,
      (holder) => onLockWait(s, holder),
      async () => {
        const again = await store.lookup(s.key);
        if (again.status === 'hit') return cachedOutcome(s, again);
        if (again.status === 'damaged') {
          const message = `cached entry is damaged (${again.reason}); discarding it and running again`;
          log.warn({ stage: s.id, key: s.key, reason: again.reason }, 'damaged cache entry');
          observer?.warn?.(s.id, message);
          await store.discard(s.key);
        }
        return runStage(s, upstream);
      },
    );
  };

  const cachedOutcome = async (s: PlannedStage, found: { dir: string; manifest: { summary?: Record<string, unknown> } }): Promise<StageOutcome> => {
    await store.touch(s.key);
    log.info({ stage: s.id, key: s.key }, 'cached');
    return { status: 'cached', dir: found.dir, seconds: 0, summary: found.manifest.summary };
  };

  const onLockWait = (s: PlannedStage, holder: { pid: number; host?: string; command?: string }): void => {
    const who = `process ${holder.pid}${holder.host ? ` on ${holder.host}` : ''}${holder.command ? ` (${holder.command})` : ''}`;
    observer?.stageWaiting?.(s.id, `waiting: ${who} is building this stage`);
    log.info({ stage: s.id, holder }, 'waiting for lock');
  };

  const runStage = async (s: PlannedStage, upstream: StageOutcome[]): Promise<StageOutcome> => {
    const pending = await store.begin(s.key, { stage: s.id, uses: s.uses });
    const started = performance.now();
    const stageLog = log.child({ stage: s.id });
    try {
      const inputs: Record<string, InputArtifact> = {};
      for (const [name, ref] of Object.entries(s.inputs)) {
        const up = upstream[s.upstream.indexOf(ref.stage)] as { dir: string };
        const upstreamStage = plan.stages[ref.stage].stage;
        inputs[name] = { path: join(up.dir, upstreamStage.outputs[ref.output].file), stage: ref.stage, output: ref.output, dir: up.dir };
      }
      runInfo.stages[s.id].status = 'running';
      const ctx: StageContext = {
        id: s.id,
        params: structuredClone(s.params),
        inputs,
        output(name) {
          const spec = s.stage.outputs[name];
          if (!spec) throw new Error(`stage '${s.uses}' declares no output '${name}' (it has: ${Object.keys(s.stage.outputs).join(', ')})`);
          return join(pending.dir, spec.file);
        },
        outDir: pending.dir,
        scratchDir: await store.scratchDir(s.key),
        resolvePath: (p) => (p.startsWith('/') ? p : join(plan.pipeline.dir, p)),
        seed: plan.pipeline.seed,
        backend: options.backend.requested,
        log: stageLog,
        progress: { update: (message) => observer?.stageProgress?.(s.id, message) },
        signal,
        run: runInfo,
      };
      stageLog.info({ key: s.key, params: s.params }, 'running');
      const summary = (await s.stage.run(ctx)) ?? undefined;
      if (signal.aborted) throw new Error('interrupted');
      await checkOutputs(s, pending.dir);
      if (force.has(s.id)) await store.discard(s.key);
      await pending.commit({ summary, meta: { keyParts: s.keyParts, pipeline: plan.pipeline.name } });
      const seconds = (performance.now() - started) / 1000;
      stageLog.info({ seconds }, 'done');
      const stored = await store.lookup(s.key);
      if (stored.status !== 'hit') throw new Error(`stored entry for '${s.id}' cannot be read back (${stored.status})`);
      return { status: 'ran', dir: stored.dir, seconds, summary };
    } catch (error) {
      await pending.abort();
      if (signal.aborted) return { status: 'interrupted', seconds: (performance.now() - started) / 1000 };
      return { status: 'failed', error, seconds: (performance.now() - started) / 1000 };
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

  // A stage outside the selection (e.g. upstream of `--only`) must already be in the cache.
  const lookupOnly = async (id: string): Promise<StageOutcome> => {
    const s = plan.stages[id];
    const found = await store.lookup(s.key);
    if (found.status === 'hit') return { status: 'cached', dir: found.dir, seconds: 0, summary: found.manifest.summary };
    return { status: 'skipped', reason: `not selected and not in the cache` };
  };

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
