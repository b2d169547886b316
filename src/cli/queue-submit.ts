// `pipe run --queue`: the executor's build step handed to `pipe worker` processes through BullMQ. The executor
// still walks the graph (a stage is submitted once the stages it waits on are done), keeps the run record and
// the live view; each job carries ids and keys only, and its outputs are taken from the artifact cache.
import { Queue, QueueEvents, type Job } from 'bullmq';
import { PipeError } from '../errors.js';
import type { buildIntoCache } from '../exec/executor.js';
import { queueFor, stageJob, type StageJobResult } from '../queue/stage-job.js';
import { redisConnection } from './commands/worker.js';

export interface QueueSubmitter {
  build: typeof buildIntoCache;
  close(): Promise<void>;
}

export function queueSubmitter(url: string, pipeline: { file: string; content: string; sets: string[]; runsOn: Record<string, string[] | undefined> }): QueueSubmitter {
  const connection = redisConnection(url);
  const queues = new Map<string, { queue: Queue; events: QueueEvents }>();
  const open = async (name: string) => {
    let q = queues.get(name);
    if (!q) {
      q = { queue: new Queue(name, { connection }), events: new QueueEvents(name, { connection }) };
      queues.set(name, q);
      await q.events.waitUntilReady();
    }
    return q;
  };

  const build: typeof buildIntoCache = async (plan, id, _upstreamDirs, env) => {
    const s = plan.stages[id];
    const { cache, observer, signal } = env;
    const fromCache = () => cache.withLock(s.key, () => undefined, () => cache.lookup(s.key, { remote: true }));
    if (!env.force) {
      const found = await fromCache();
      if (found.status === 'hit') return { status: 'cached', dir: found.dir, seconds: 0, summary: found.manifest.summary, tier: found.tier };
    }
    const runsOn = pipeline.runsOn[id] ?? [];
    const name = queueFor(runsOn);
    const { queue, events } = await open(name);
    const started = performance.now();
    const onProgress = ({ jobId, data }: { jobId: string; data: unknown }) => {
      const p = data as { message?: string; worker?: string };
      if (jobId === job.id && p?.message) observer?.stageProgress?.(id, `${p.message}${p.worker ? ` · ${p.worker}` : ''}`);
    };
    const job: Job = await queue.add(id, stageJob(pipeline.file, pipeline.content, pipeline.sets, plan, id, runsOn));
    events.on('progress', onProgress);
    // Ctrl-C removes the job if no worker has taken it yet (a taken job is locked and stays).
    const onAbort = () => void job.remove().catch(() => undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    if ((await queue.getWorkers()).length === 0) {
      observer?.stageWaiting?.(id, `waiting: no worker reads queue ${name}${runsOn.length ? ` (runs-on: ${runsOn.join(', ')})` : ''}`);
    }
    try {
      const result = (await Promise.race([
        job.waitUntilFinished(events),
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('interrupted')), { once: true })),
      ])) as StageJobResult;
      const found = await fromCache();
      if (found.status !== 'hit') {
        throw new PipeError(`stage '${id}' was built by worker ${result.worker}, but its outputs are not in the artifact cache here`, {
          hint: 'workers on other machines pass artifacts through the remote cache: set PIPE_REMOTE_CACHE on both sides (and PIPE_REMOTE_CACHE_WRITE=1 on the workers)',
        });
      }
      observer?.stageProgress?.(id, `${result.status} on ${result.worker}`);
      const seconds = (performance.now() - started) / 1000;
      return result.status === 'ran'
        ? { status: 'ran', dir: found.dir, seconds, summary: found.manifest.summary }
        : { status: 'cached', dir: found.dir, seconds: 0, summary: found.manifest.summary, tier: found.tier };
    } catch (error) {
      if (signal.aborted) return { status: 'interrupted', seconds: (performance.now() - started) / 1000 };
      return { status: 'failed', error: error instanceof Error ? error : new Error(String(error)), seconds: (performance.now() - started) / 1000 };
    } finally {
      events.off('progress', onProgress);
      signal.removeEventListener('abort', onAbort);
    }
  };

  return {
    build,
    close: async () => {
      await Promise.all([...queues.values()].flatMap((q) => [q.queue.close(), q.events.close()]));
    },
  };
}
