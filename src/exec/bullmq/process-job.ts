// The jobs a queue worker (`pipe worker`, queue-worker.ts) runs.
// A stage job: check it against this checkout, plan the pipeline here, find the stage's inputs in the artifact
// cache, build the stage into it (the same buildIntoCache a local run uses), and wait for the push to the remote
// tier so the next job, on any machine, finds the outputs.
// A wait job (flow.ts): done once the stage jobs it names are done.
import { fork } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Queue, QueueEvents } from 'bullmq';
import { pino } from 'pino';
import { PipeError } from '../../errors.js';
import { buildIntoCache, entryExpectation } from '../executor.js';
import { openPipeline } from '../open-pipeline.js';
import { jobEnd } from './redis.js';
import { checkWaitJob } from './flow.js';
import {
  checkJob,
  checkJobModules,
  checkJobPipeline,
  checkJobStage,
  failureError,
  type StageJobAnswer,
  type StageJobMessage,
  type StageJobRequest,
  type StageJobUpdate,
} from './job.js';

const CHILD = fileURLToPath(new URL('./stage-job-child.js', import.meta.url));

export interface QueueWorkerContext {
  /** host:pid, reported with each result. */
  worker: string;
  labels: string[];
  signal: AbortSignal;
  progress(update: StageJobUpdate): void;
  /** 1 for a job's first start; more when an earlier attempt stopped (its worker was killed or lost). */
  attempt?: number;
  /** The checkout the worker runs in (default: the working directory). */
  cwd?: string;
  /** The worker's PIPE_QUEUE_KEY: it serves only jobs signed with it. */
  queueKey?: string;
}

/** Thrown when the worker stops (Ctrl-C, SIGTERM) before the stage is built: the job goes back to the queue. */
export class HandedBack extends Error {
  constructor(stage: string) {
    super(`stage '${stage}' handed back: the worker is stopping`);
  }
}

/**
 * Builds the stage job in a child process (stage-job-child.ts) and resolves to its result; rejects with the
 * stage's error, or with HandedBack when `signal` stopped it first.
 */
export function processStageJobInChild(data: unknown, w: QueueWorkerContext): Promise<StageJobAnswer> {
  const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const stop = () => child.kill('SIGTERM');
  w.signal.addEventListener('abort', stop, { once: true });
  const stage = String((data as { stage?: { id?: unknown } })?.stage?.id);
  return new Promise<StageJobAnswer>((resolve, reject) => {
    let answer: StageJobMessage | undefined;
    child.on('message', (message: StageJobMessage) => {
      if ('progress' in message) w.progress(message.progress);
      else answer = message;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      w.signal.removeEventListener('abort', stop);
      if (answer && 'result' in answer) resolve(answer.result);
      else if (answer && 'failure' in answer) reject(failureError(answer.failure));
      else if ((answer && 'handedBack' in answer) || w.signal.aborted) reject(new HandedBack(stage));
      else reject(new PipeError(`the process building stage '${stage}' died (${signal ?? `exit code ${code}`})`, { exitCode: 1, hint: 'see the worker\'s output; out of memory is a common cause' }));
    });
    child.send({ job: data, worker: w.worker, labels: w.labels, attempt: w.attempt ?? 1 } satisfies StageJobRequest);
  });
}

export async function processStageJob(data: unknown, w: QueueWorkerContext): Promise<StageJobAnswer> {
  const cwd = w.cwd ?? process.cwd();
  // Nothing in the job is used before it is checked, and no stage module is imported before it is vetted.
  const job = checkJob(data, w.queueKey);
  await checkJobPipeline(job, cwd);
  const { store, plan } = await openPipeline(resolve(cwd, job.pipeline.file), {
    sets: job.pipeline.sets,
    backend: job.pipeline.backend,
    beforeImport: (modules) => checkJobModules(job, modules, cwd),
  });
  checkJobStage(job, plan);
  const s = plan.stages[job.stage.id];
  const host = w.worker.replace(/:\d+$/, '');
  if ((w.attempt ?? 1) > 1) {
    // The run says whether the stage picks up where the stopped attempt was or starts over.
    const resumes = !job.stage.force && (await store.cache.local.hasScratch(s.key));
    w.progress({
      note: resumes
        ? `taken over by ${host} after the earlier attempt stopped: resuming from what it left in this store's scratch (its checkpoint)`
        : `taken over by ${host} after the earlier attempt stopped: starting over, since that attempt's checkpoints stayed in its own store`,
    });
  } else {
    w.progress({}); // says which worker has the stage
  }
  const upstreamDirs: Record<string, string> = {};
  for (const u of s.upstream) {
    const key = plan.stages[u].key;
    const found = await store.cache.withLock(key, () => {}, () => store.cache.lookup(key, { remote: true, expect: entryExpectation(plan.stages[u]), signal: w.signal }));
    if (found.status !== 'hit') {
      throw new PipeError(`input '${u}' of stage '${s.id}' is not in the artifact cache of worker ${w.worker}`, {
        hint: 'workers on other machines need the remote cache to pass artifacts on: PIPE_REMOTE_CACHE on every side, PIPE_REMOTE_CACHE_WRITE=1 on the workers',
      });
    }
    upstreamDirs[u] = found.dir;
  }
  // Warnings go to this worker's stderr and to the run's live view.
  const warnings = {
    write(line: string) {
      const { msg, level } = JSON.parse(line) as { msg?: string; level?: number };
      if (msg && level === pino.levels.values.warn) w.progress({ warning: msg });
    },
  };
  const log = pino({ level: 'warn', base: { worker: w.worker, stage: s.id } }, pino.multistream([{ level: 'warn', stream: pino.destination(2) }, { level: 'warn', stream: warnings }]));
  const outcome = await buildIntoCache(plan, s.id, upstreamDirs, {
    cache: store.cache,
    log,
    signal: w.signal,
    force: job.stage.force,
    observer: { stageProgress: (_id, message) => w.progress({ message }), stageNote: (_id, note) => w.progress({ note }) },
  });
  await store.cache.flush();
  if (outcome.status === 'interrupted') throw new HandedBack(s.id);
  if (outcome.status === 'failed') throw outcome.error;
  if (outcome.status !== 'ran' && outcome.status !== 'cached') throw new Error(`stage '${s.id}' ${outcome.status}`);
  return { status: outcome.status, key: s.key, seconds: outcome.seconds, host, worker: w.worker, labels: w.labels };
}

/** Done when every stage job the wait job names has completed; fails when one failed or was removed. */
export async function processWaitJob(
  data: unknown,
  queueNamed: (name: string) => Promise<{ queue: Queue; events: QueueEvents }>,
  signal: AbortSignal,
): Promise<{ waited: string[] }> {
  const wait = checkWaitJob(data);
  for (const target of wait.waitsFor) {
    const { queue, events } = await queueNamed(target.queue);
    const end = await jobEnd(queue, events, target.jobId, signal);
    if (end.state === 'stopped') throw new HandedBack(`${wait.stage} waits`);
    if (end.state === 'failed') throw new Error(`stage '${target.stage}' failed`);
    if (end.state === 'gone') throw new Error(`the job of stage '${target.stage}' was removed (its run was interrupted)`);
  }
  return { waited: wait.waitsFor.map((t) => t.stage) };
}
