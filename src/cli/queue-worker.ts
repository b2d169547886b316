// One stage job, as `pipe worker` runs it: check the job against this checkout, plan the pipeline here, find the
// stage's inputs in the artifact cache, build the stage into it (the same buildIntoCache a local run uses), and
// wait for the push to the remote tier so the next job, on any machine, finds the outputs.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { PipeError } from '../errors.js';
import { buildIntoCache, messageOf } from '../exec/executor.js';
import { openPipeline } from './open-pipeline.js';
import { checkJobPipeline, checkJobStage, type StageJobResult } from '../queue/stage-job.js';

export interface WorkerContext {
  /** host:pid, reported with each result. */
  worker: string;
  labels: string[];
  signal: AbortSignal;
  progress(message: string): void;
  /** The checkout the worker runs in (default: the working directory). */
  cwd?: string;
}

export async function processStageJob(data: unknown, w: WorkerContext): Promise<StageJobResult & { labels: string[] }> {
  const cwd = w.cwd ?? process.cwd();
  const file = (data as { pipeline?: { file?: unknown } })?.pipeline?.file;
  const local = typeof file === 'string' && !file.startsWith('/') && !file.split(/[\\/]/).includes('..') ? await readFile(resolve(cwd, file), 'utf8').catch(() => undefined) : undefined;
  const job = checkJobPipeline(data, local);
  const { store, plan } = await openPipeline(resolve(cwd, job.pipeline.file), { sets: job.pipeline.sets });
  checkJobStage(job, plan);
  const s = plan.stages[job.stage.id];
  const upstreamDirs: Record<string, string> = {};
  for (const u of s.upstream) {
    const key = plan.stages[u].key;
    const found = await store.cache.withLock(key, () => {}, () => store.cache.lookup(key, { remote: true }));
    if (found.status !== 'hit') {
      throw new PipeError(`input '${u}' of stage '${s.id}' is not in the artifact cache here`, {
        hint: 'workers on other machines need the remote cache (PIPE_REMOTE_CACHE) to pass artifacts on',
      });
    }
    upstreamDirs[u] = found.dir;
  }
  const log = pino({ level: 'warn', base: { worker: w.worker, stage: s.id } }, pino.destination(2));
  const outcome = await buildIntoCache(plan, s.id, upstreamDirs, {
    cache: store.cache,
    log,
    signal: w.signal,
    observer: { stageProgress: (_id, message) => w.progress(message) },
  });
  await store.cache.flush();
  if (outcome.status === 'failed') throw new Error(messageOf(outcome.error));
  if (outcome.status !== 'ran' && outcome.status !== 'cached') throw new Error(`stage '${s.id}' ${outcome.status}`);
  return { status: outcome.status, key: s.key, seconds: outcome.seconds, host: w.worker.split(':')[0], worker: w.worker, labels: w.labels };
}
