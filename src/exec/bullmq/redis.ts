// The queue's Redis as both sides use it: event listeners that miss nothing, waiting for one job's end, and
// noticing that Redis has gone away.
import { Job, Queue, QueueEvents } from 'bullmq';
import type { RedisConnection } from './redis-url.js';

export { redisConnection, shownUrl, type RedisConnection } from './redis-url.js';

/**
 * QueueEvents that hears every event of the queue from now on. BullMQ's default starts at its first blocking
 * read, which can come after a job that is being waited for has already finished.
 */
export async function openQueueEvents(queue: Queue, connection: RedisConnection): Promise<QueueEvents> {
  const client = (await queue.client) as unknown as { xrevrange(key: string, end: '+', start: '-', count: 'COUNT', n: number): Promise<[string, string[]][]> };
  const [last] = await client.xrevrange(queue.keys.events, '+', '-', 'COUNT', 1);
  const events = new QueueEvents(queue.name, { connection, lastEventId: last?.[0] ?? '0-0' });
  events.on('error', () => undefined); // connection faults are watched by connectionWatch
  await events.waitUntilReady();
  return events;
}

export type JobEnd = { state: 'completed'; value: unknown } | { state: 'failed'; reason: string } | { state: 'gone' } | { state: 'stopped' };

/** Events can be lost while a connection is re-established: look at the job itself this often too. */
const RECHECK_MS = 5_000;

/**
 * Resolves when the job has completed, failed or was removed (Ctrl-C on the submitter removes unstarted jobs),
 * or with 'stopped' once `signal` aborts.
 */
export function jobEnd(queue: Queue, queueEvents: QueueEvents, jobId: string, signal?: AbortSignal): Promise<JobEnd> {
  // Per-job events ("completed:<id>") are not in QueueEvents' typed list.
  const events = queueEvents as unknown as NodeJS.EventEmitter;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (end: JobEnd) => {
      if (settled) return;
      settled = true;
      clearInterval(timer);
      events.off(`completed:${jobId}`, onCompleted);
      events.off(`failed:${jobId}`, onFailed);
      events.off(`removed:${jobId}`, onRemoved);
      signal?.removeEventListener('abort', onStop);
      resolve(end);
    };
    const onCompleted = ({ returnvalue }: { returnvalue: unknown }) => finish({ state: 'completed', value: returnvalue });
    const onFailed = ({ failedReason }: { failedReason: string }) => finish({ state: 'failed', reason: failedReason });
    const onRemoved = () => finish({ state: 'gone' });
    const onStop = () => finish({ state: 'stopped' });
    events.on(`completed:${jobId}`, onCompleted);
    events.on(`failed:${jobId}`, onFailed);
    events.on(`removed:${jobId}`, onRemoved);
    signal?.addEventListener('abort', onStop, { once: true });
    const check = async () => {
      try {
        // The state first, then the job: a job read before it finished would hold no result.
        const state = await queue.getJobState(jobId);
        if (state === 'unknown') return finish({ state: 'gone' });
        if (state !== 'completed' && state !== 'failed') return;
        const job = await Job.fromId(queue, jobId);
        if (!job) finish({ state: 'gone' });
        else if (state === 'completed') finish({ state, value: job.returnvalue });
        else finish({ state, reason: job.failedReason });
      } catch {
        // Redis is away: the watch of the connection decides; look again later.
      }
    };
    const timer = setInterval(() => void check(), RECHECK_MS);
    if (signal?.aborted) onStop();
    else void check();
  });
}

/** What the watch needs of a Queue, QueueEvents, FlowProducer or Worker. */
interface RedisUser {
  client: Promise<unknown>;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(): Promise<void>;
}

/** A Redis client as BullMQ holds it (ioredis). */
interface RawClient {
  status: string;
  on(event: 'error', listener: (err: Error) => void): unknown;
  disconnect(): void;
}

/**
 * Watches connections to Redis: once one has been down (or not yet up) for `graceMs`, reconnecting all along,
 * `onLost` is called once with the last error, and whether none ever connected. A Redis that comes back within the
 * grace goes unnoticed.
 */
export function connectionWatch(graceMs: number, onLost: (reason: string, neverConnected: boolean) => void) {
  const users = new Map<RedisUser, RawClient | undefined>();
  let lastError = 'connection closed';
  let timer: NodeJS.Timeout | undefined;
  let lost = false;
  const check = () => {
    timer = undefined;
    if (lost) return;
    const clients = [...users.values()];
    if (clients.some((c) => c?.status !== 'ready')) {
      lost = true;
      onLost(lastError, clients.every((c) => c === undefined));
    }
  };
  const onError = (err: Error) => {
    lastError = err.message || (err as NodeJS.ErrnoException).code || String(err);
    timer ??= setTimeout(check, graceMs);
  };
  return {
    /** Watch the connection of `user`; resolves once it is connected. */
    async add(user: RedisUser): Promise<void> {
      users.set(user, undefined);
      user.on('error', onError);
      const client = (await user.client) as RawClient;
      users.set(user, client);
      client.on('error', onError);
    },
    get lost(): boolean {
      return lost;
    },
    stop(): void {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    /**
     * Let go of a Redis that is gone: BullMQ's close() would wait for it to answer. A connected client is
     * dropped (no more retries), one that never connected is closed.
     */
    drop(): void {
      for (const [user, client] of users) {
        if (client) client.disconnect();
        else void user.close().catch(() => undefined);
      }
    },
  };
}
