// The queue worker (`pipe worker`): takes stage jobs from the BullMQ queues its labels allow and builds each in a
// process of its own (process-job.ts, stage-job-child.ts), at most `concurrency` at once; it also completes the
// flows' wait jobs (flow.ts), which cost nothing but a connection. Ctrl-C or SIGTERM hands back what it holds.
import { hostname } from 'node:os';
import { Queue, WaitingError, Worker } from 'bullmq';
import { envSeconds } from '../../env-seconds.js';
import { WAIT_QUEUE } from './flow.js';
import { queueKey, queuesOf } from './job.js';
import { processStageJobInChild, processWaitJob } from './process-job.js';
import { openQueueEvents, redisConnection, shownUrl } from './redis.js';

export interface QueueWorkerOptions {
  /** The Redis server, redis://… */
  url: string;
  /** Labels this machine has: it also reads the queues of stages whose runs-on: asks for them. */
  labels: string[];
  /** Stages built at once. */
  concurrency: number;
}

/** What the worker has to say, as it happens. */
export interface QueueWorkerEvents {
  ready?(w: { name: string; where: string; labels: string[]; concurrency: number; signedOnly: boolean }): void;
  building?(job: { stage: string; id: string; attempt: number }): void;
  /** A job finished: a stage job (its status) or a wait job ('waited'). */
  done?(what: string, status: string): void;
  failed?(what: string, message: string): void;
  /** An error that is not about reaching Redis. */
  error?(message: string): void;
  /** Redis went away (said once until it is back); `everReady`: it was reached before. */
  lost?(where: string, message: string, everReady: boolean): void;
  back?(where: string): void;
  stopping?(): void;
  /** Stopping, Redis did not take the jobs back in time: the process exits with code 1. */
  noAnswer?(where: string): void;
}

/** How long a worker's hold on a job lasts without renewal, and how often it looks for stalled jobs (BullMQ's default). */
const DEFAULT_LOCK_S = 30;
/** Errors that mean Redis cannot be reached (ioredis and Node socket errors). */
const CONNECTION_FAULT = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EPIPE|Connection is closed/;
/** How long a stopping worker waits for Redis to take its jobs back. */
const STOP_TIMEOUT_MS = 10_000;

/** Serves the queue until Ctrl-C or SIGTERM, then hands back what it holds and resolves. */
export async function runQueueWorker(o: QueueWorkerOptions, events: QueueWorkerEvents = {}): Promise<void> {
  const lockMs = envSeconds('PIPE_QUEUE_LOCK_S', { fallback: DEFAULT_LOCK_S, atLeast: 1, example: DEFAULT_LOCK_S }) * 1000;
  const { labels, concurrency } = o;
  const connection = redisConnection(o.url);
  const where = shownUrl(o.url);
  const name = `${hostname()}:${process.pid}`;
  const abort = new AbortController();

  // Jobs taken before a stop go back to the queue, for another worker.
  const handBack = async (job: { moveToWait(token?: string): Promise<unknown> }, token: string | undefined) => {
    await job.moveToWait(token);
    throw new WaitingError();
  };

  /** Stages being built: a stop waits for them to leave the store tidy before anything may cut it short. */
  const inFlight = new Set<Promise<unknown>>();
  // One BullMQ Worker per queue this machine may read; a shared count keeps to `concurrency` stages in all.
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= concurrency) await new Promise<void>((r) => waiting.push(r));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  const options = { connection, autorun: false, lockDuration: lockMs, stalledInterval: lockMs };
  const stageConsumers = queuesOf(labels).map(
    (queue) =>
      new Worker(
        queue,
        async (job, token) => {
          await slot();
          try {
            events.building?.({ stage: `${job.data?.stage?.id}`, id: `${job.id}`, attempt: job.attemptsStarted });
            const building = processStageJobInChild(job.data, {
              worker: name,
              labels,
              signal: abort.signal,
              attempt: job.attemptsStarted,
              progress: (update) => void job.updateProgress({ ...update, worker: name, host: hostname() }).catch(() => undefined),
            });
            inFlight.add(building);
            return await building.finally(() => inFlight.delete(building));
          } catch (error) {
            if (abort.signal.aborted) return handBack(job, token);
            throw error;
          } finally {
            release();
          }
        },
        { ...options, concurrency },
      ),
  );

  // Wait jobs only wait, so many at once; they watch stage jobs in whichever queue those are.
  const watched = new Map<string, Promise<{ queue: Queue; events: Awaited<ReturnType<typeof openQueueEvents>> }>>();
  const queueNamed = (queueName: string) => {
    let q = watched.get(queueName);
    if (!q) {
      const queue = new Queue(queueName, { connection });
      queue.on('error', () => undefined);
      q = openQueueEvents(queue, connection).then((queueEvents) => ({ queue, events: queueEvents }));
      watched.set(queueName, q);
    }
    return q;
  };
  const waitConsumer = new Worker(
    WAIT_QUEUE,
    async (job, token) => {
      try {
        return await processWaitJob(job.data, queueNamed, abort.signal);
      } catch (error) {
        if (abort.signal.aborted) return handBack(job, token);
        throw error;
      }
    },
    { ...options, concurrency: 100 },
  );
  const consumers = [...stageConsumers, waitConsumer];

  // A Redis that goes away is said once, and its return once; BullMQ reconnects by itself.
  let down = false;
  let everReady = false;
  for (const c of consumers) {
    c.on('error', (err) => {
      if (!CONNECTION_FAULT.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`)) {
        events.error?.(err.message);
        return;
      }
      if (down) return;
      down = true;
      events.lost?.(where, err.message, everReady);
    });
    c.on('ready', () => {
      if (down) events.back?.(where);
      down = false;
    });
    c.on('completed', (job) => events.done?.(`${job.data?.stage?.id ?? job.name}`, `${job.returnvalue?.status ?? 'waited'}`));
    c.on('failed', (job, err) => {
      if (!(err instanceof WaitingError)) events.failed?.(`${job?.data?.stage?.id ?? job?.name}`, err.message);
    });
  }
  let stopping: Promise<unknown> | undefined;
  const stop = () => {
    if (stopping) return;
    events.stopping?.();
    abort.abort();
    stopping = (async () => {
      await Promise.allSettled(inFlight);
      // Handing back needs Redis: without it, exit once the stages have cleaned up after themselves.
      const closed = Promise.all(consumers.map((c) => c.close()));
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, down ? 0 : STOP_TIMEOUT_MS, 'timeout').unref());
      if ((await Promise.race([closed, timeout])) === 'timeout') {
        events.noAnswer?.(where);
        process.exit(1);
      }
    })();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await Promise.all(consumers.map((c) => c.waitUntilReady()));
  everReady = true;
  events.ready?.({ name, where, labels, concurrency, signedOnly: queueKey() !== undefined });
  await Promise.all(consumers.map((c) => c.run()));
  await stopping;
  await Promise.all([...watched.values()].map(async (q) => Promise.all([(await q).queue.close(), (await q).events.close()])));
}
