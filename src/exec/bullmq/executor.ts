// `pipe run --queue`: the stale stages go to the queue as one BullMQ flow (flow.ts) that
// `pipe worker` processes take jobs from; a stage's job is taken only once the stages it reads are done. The
// executor still walks the graph here: it keeps the run record and the live view (with each stage's worker), and
// takes a stage's outputs from the artifact cache (its remote tier between machines) once its job is done. Jobs
// carry ids, the pipeline's content and keys, never artifacts or code.
import { FlowProducer, Queue, type QueueEvents } from 'bullmq';
import type { Logger } from 'pino';
import { PipeError } from '../../errors.js';
import { envSeconds } from '../../env-seconds.js';
import { entryExpectation, walkPlan, type ExecutionObserver, type Executor, type StageBuilder, type StageOutcome } from '../executor.js';
import type { Plan, PlannedStage } from '../../plan/plan.js';
import type { ArtifactCache } from '../../store/artifact-cache.js';
import { connectionWatch, jobEnd, openQueueEvents, redisConnection, shownUrl } from './redis.js';
import { stageFlow, WAIT_QUEUE, type StageFlow } from './flow.js';
import { failureError, queueFor, queueKey, stageJob, type StageJobProgress, type StageJobResult } from './job.js';

/** Where a run's jobs go and what they carry. */
export interface QueueSettings {
  url: string;
  /** The run's id: the flow's jobs are named after it. */
  run: string;
  pipeline: { file: string; content: string; sets: string[]; backend?: string };
  runsOn: Record<string, string[] | undefined>;
  cache: ArtifactCache;
}

interface QueueRun extends QueueSettings {
  log: Logger;
  signal: AbortSignal;
  observer?: ExecutionObserver;
}

interface QueueSubmitter {
  /**
   * Put the stale stages among `selected` on the queue as one flow; call before walking the plan. When Redis
   * cannot take it, those stages fail with the reason (build says so).
   */
  submit(plan: Plan, selected: Set<string>, force: Set<string>): Promise<void>;
  /** The build step of the walk: wait for the stage's job, then take its outputs from the artifact cache. */
  build: StageBuilder;
  /** Set once the connection to Redis is lost for good: the run fails with it. */
  readonly lost: PipeError | undefined;
  close(): Promise<void>;
}

/** How long a run waits for a lost queue to come back before it fails. */
const DEFAULT_RECONNECT_S = 20;

/**
 * Builds the run's stale stages on queue workers: they go to the queue as one flow before the graph is walked,
 * and each stage's outcome is its job's end, its outputs then taken from the artifact cache.
 */
export function bullmqExecutor(q: QueueSettings): Executor {
  let submitter: QueueSubmitter | undefined;
  return {
    async execute(o) {
      submitter = queueSubmitter({ ...q, log: o.log, signal: o.signal, observer: o.observer });
      await submitter.submit(o.plan, o.selected, o.force);
      return walkPlan(o, submitter.build);
    },
    close: async () => submitter?.close(),
  };
}

function queueSubmitter(r: QueueRun): QueueSubmitter {
  const connection = redisConnection(r.url);
  const where = shownUrl(r.url);
  const graceS = envSeconds('PIPE_QUEUE_RECONNECT_S', { fallback: DEFAULT_RECONNECT_S, example: DEFAULT_RECONNECT_S });
  const { cache, log, observer } = r;

  let lost: PipeError | undefined;
  let onLost!: () => void;
  const lostSignal = new Promise<'lost'>((resolve) => (onLost = () => resolve('lost')));
  /** Ends every wait for a job: the queue is lost, or the submitter closes. */
  const stopWaiting = new AbortController();
  const watch = connectionWatch(graceS * 1000, (reason, neverConnected) => {
    lost = neverConnected
      ? new PipeError(`cannot reach the queue ${where}: ${reason} (tried for ${graceS} s)`, {
          exitCode: 1,
          hint: `is Redis running there? start it, or give --queue (or PIPE_QUEUE) the right address`,
        })
      : new PipeError(`lost the queue ${where}: ${reason}, and it did not come back within ${graceS} s`, {
          exitCode: 1,
          hint:
            `start Redis at ${where} again (or check the network and --queue), then run the same command: the stages the workers ` +
            'finished are in the artifact cache and do not run again. Workers reconnect by themselves.',
        });
    log.error({ queue: where, reason }, neverConnected ? 'cannot reach the queue' : 'lost the queue');
    onLost();
    stopWaiting.abort();
  });
  /** `p`, unless the queue is lost first. */
  const whileConnected = async <T>(p: Promise<T>): Promise<T> => {
    const first = await Promise.race([p, lostSignal]);
    if (first === 'lost') throw lost!;
    return first as T;
  };

  const flowProducer = new FlowProducer({ connection });
  const watching = [watch.add(flowProducer)];
  const queues = new Map<string, Promise<{ queue: Queue; events: QueueEvents }>>();
  let flow: StageFlow | undefined;
  const stageOfJob = new Map<string, string>();
  /** The worker a stage's job was last seen on. */
  const workerOf = new Map<string, string>();

  const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
    const id = stageOfJob.get(jobId);
    const p = data as Partial<StageJobProgress>;
    if (!id || typeof p !== 'object' || p === null) return;
    if (typeof p.worker === 'string' && p.worker !== workerOf.get(id)) {
      workerOf.set(id, p.worker);
      observer?.stageWorker?.(id, p.host ?? p.worker);
      log.info({ stage: id, worker: p.worker }, 'taken by a worker');
    }
    if (typeof p.message === 'string') observer?.stageProgress?.(id, p.message);
    if (typeof p.note === 'string') {
      observer?.stageNote?.(id, p.note);
      log.info({ stage: id, worker: p.worker }, p.note);
    }
    // Through the log, warnings also reach the live view (as a local stage's do).
    if (typeof p.warning === 'string') log.warn({ stage: id, worker: p.worker }, p.warning);
  };
  const onStalled = ({ jobId }: { jobId: string }) => {
    const id = stageOfJob.get(jobId);
    if (!id) return;
    const note = `the worker building it (${workerOf.get(id) ?? 'unknown'}) stopped answering: the job goes back to the queue for another worker`;
    observer?.stageNote?.(id, note);
    log.info({ stage: id, worker: workerOf.get(id) }, note);
  };

  const open = (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = (async () => {
        const queue = new Queue(name, { connection });
        await watch.add(queue);
        const events = await openQueueEvents(queue, connection);
        await watch.add(events);
        events.on('progress', onProgress);
        events.on('stalled', onStalled);
        return { queue, events };
      })();
      queues.set(name, q);
    }
    return whileConnected(q);
  };

  // Ctrl-C removes the jobs no worker has taken, parents first so that no child's removal releases its parent;
  // a taken job is locked and stays: its worker finishes it into the cache.
  let removing: Promise<void> | undefined;
  const removeUnstarted = () => {
    removing ??= (async () => {
      for (const { queue, jobId } of flow?.topDown ?? []) {
        const job = await (await open(queue)).queue.getJob(jobId).catch(() => undefined);
        await job?.remove({ removeChildren: false }).catch(() => undefined);
      }
    })().catch(() => undefined);
  };
  r.signal.addEventListener('abort', removeUnstarted, { once: true });

  /** Why the flow could not be added. */
  let notSubmitted: unknown;
  const submit = async (plan: Plan, selected: Set<string>, force: Set<string>) => {
    // Stale: selected, forced or in neither cache tier, with every input in a cache or built by the flow. A stage
    // whose input is in neither is left to the executor, which skips it and says why.
    const located = new Map(await Promise.all(plan.order.map(async (id) => [id, await cache.locate(plan.stages[id].key)] as const)));
    const stale = new Set<string>();
    for (const id of plan.order) {
      const inputsReady = plan.stages[id].upstream.every((u) => stale.has(u) || located.get(u) !== undefined);
      if (selected.has(id) && (force.has(id) || located.get(id) === undefined) && inputsReady) stale.add(id);
    }
    if (stale.size === 0) return;
    const runsOn = (id: string) => r.runsOn[id] ?? [];
    const key = queueKey();
    flow = stageFlow(r.run, plan.order, stale, (id) => plan.stages[id].upstream, (id) => ({
      queue: queueFor(runsOn(id)),
      data: stageJob(r.pipeline, plan, id, { runsOn: runsOn(id), force: force.has(id), key }),
    }));
    for (const [id, { jobId }] of flow.jobs) stageOfJob.set(jobId, id);
    try {
      // Listen before adding, so that no event of the flow is missed.
      await Promise.all([...new Set([WAIT_QUEUE, ...[...flow.jobs.values()].map((j) => j.queue)])].map(open));
      await whileConnected(Promise.all(watching));
      await whileConnected(flowProducer.add(flow.root));
      log.info({ queue: where, stages: [...stale], jobs: flow.topDown.length }, 'flow submitted');
    } catch (error) {
      // The stages of the flow fail with it; cached ones are still taken from the cache.
      notSubmitted = error;
    }
  };

  /**
   * Why a stage's job is gone. A Redis that restarted empty (no persistence) or was flushed has lost the whole
   * flow, its root too; a job removed by someone else leaves the root waiting.
   */
  const goneError = async (id: string): Promise<PipeError> => {
    const { queue } = await open(WAIT_QUEUE);
    const root = await queue.getJobState(r.run).catch(() => undefined);
    if (root !== 'unknown') return new PipeError(`the job of stage '${id}' was removed from the queue ${where}`, { exitCode: 1 });
    return new PipeError(`the queue ${where} lost this run's jobs: Redis restarted empty, or was flushed`, {
      exitCode: 1,
      hint: 'run the same pipe run again: the stages that finished come from the artifact cache and do not run again. A Redis with persistence (appendonly yes) keeps its jobs over a restart',
    });
  };

  const fromCache = (s: PlannedStage) =>
    cache.withLock(s.key, () => undefined, () => cache.lookup(s.key, { remote: true, recheck: true, expect: entryExpectation(s), signal: r.signal }));

  const build: StageBuilder = async (plan, id, _upstreamDirs, env) => {
    const s = plan.stages[id];
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const job = flow?.jobs.get(id);
    if (!job) {
      // In a cache tier when the flow was made.
      const found = await fromCache(s);
      if (found.status === 'hit') return { status: 'cached', dir: found.dir, seconds: 0, summary: found.manifest.summary, tier: found.tier };
      return { status: 'failed', seconds: 0, error: new PipeError(`stage '${id}' was in the artifact cache when the run began, and is not now`, { exitCode: 1, hint: 'run the same command again' }) };
    }
    if (notSubmitted !== undefined) return { status: 'failed', error: notSubmitted, seconds: 0 };
    try {
      const { queue, events } = await open(job.queue);
      const runsOn = r.runsOn[id] ?? [];
      if ((await whileConnected(queue.getWorkers())).length === 0) {
        observer?.stageWaiting?.(id, `waiting: no worker reads queue ${job.queue}${runsOn.length ? ` (runs-on: ${runsOn.join(', ')})` : ''}`);
      }
      const end = await jobEnd(queue, events, job.jobId, AbortSignal.any([env.signal, stopWaiting.signal]));
      if (end.state === 'stopped') return lost ? { status: 'failed', error: lost, seconds: seconds() } : { status: 'interrupted', seconds: seconds() };
      if (end.state === 'failed') return { status: 'failed', error: jobFailure(end.reason), seconds: seconds() };
      if (end.state === 'gone') return { status: 'failed', error: await goneError(id), seconds: seconds() };
      const result = (end.value ?? {}) as Partial<StageJobResult>;
      const found = await fromCache(s);
      if (found.status !== 'hit') {
        const hint = !cache.remote
          ? 'workers on other machines pass artifacts through the remote cache: set PIPE_REMOTE_CACHE on both sides (and PIPE_REMOTE_CACHE_WRITE=1 on the workers)'
          : !cache.activeRemote
            ? `the remote cache ${cache.remote.location} stopped answering during this run (see the warning above); run the same command again once it answers`
            : `the workers push what they build only with PIPE_REMOTE_CACHE_WRITE=1, to the remote cache this run reads (${cache.remote.location})`;
        throw new PipeError(`stage '${id}' was built by worker ${result.worker ?? '?'}, but its outputs are not in the artifact cache here`, { exitCode: 1, hint });
      }
      const worker = result.host ?? result.worker;
      return result.status === 'ran'
        ? { status: 'ran', dir: found.dir, seconds: result.seconds ?? seconds(), summary: found.manifest.summary, worker }
        : { status: 'cached', dir: found.dir, seconds: 0, summary: found.manifest.summary, tier: found.tier, worker };
    } catch (error) {
      if (env.signal.aborted) return { status: 'interrupted', seconds: seconds() };
      return { status: 'failed', error, seconds: seconds() } satisfies StageOutcome;
    }
  };

  return {
    submit,
    build,
    get lost() {
      return lost;
    },
    close: async () => {
      watch.stop();
      stopWaiting.abort();
      r.signal.removeEventListener('abort', removeUnstarted);
      // Nothing to say to a Redis that is gone.
      if (lost) return watch.drop();
      await removing;
      const all = await Promise.all([...queues.values()].map((q) => q.catch(() => undefined)));
      await Promise.all([flowProducer, ...all.flatMap((q) => (q ? [q.queue, q.events] : []))].map((p) => p.close().catch(() => undefined)));
    },
  };
}

/** The stage's own error; BullMQ's words when the job's workers died twice (its stalled-job limit). */
function jobFailure(reason: string): PipeError {
  if (/stalled more than allowable limit/.test(reason)) {
    return new PipeError('the workers building this stage stopped answering twice (killed, or out of memory?)', {
      exitCode: 1,
      hint: "look at the workers' output, then run the same command again",
    });
  }
  return failureError(reason);
}
