// The queue's Redis as both sides use it: BullMQ connection options from a redis:// URL, the URL as messages show
// it, event listeners that miss nothing, waiting for one job's end, and noticing that Redis has gone away.
import { Job, Queue, QueueEvents, type ConnectionOptions } from 'bullmq';
import { PipeError } from '../errors.js';

export type RedisConnection = ConnectionOptions & { host: string; port: number; maxRetriesPerRequest: null };

/** BullMQ connection options from a redis:// URL. */
export function redisConnection(url: string): RedisConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PipeError(`--queue ${url}: not a URL`, { hint: 'e.g. --queue redis://localhost:6379' });
  }
  if (parsed.protocol !== 'redis:') throw new PipeError(`--queue ${url}: expected a redis:// URL`, { hint: 'e.g. --queue redis://localhost:6379' });
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname || 'localhost',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    // Workers block on Redis; BullMQ needs ioredis to retry forever instead of failing commands. Whether a lost
    // connection ends a run is decided by connectionWatch below.
    maxRetriesPerRequest: null,
  };
}

/** The URL without its password, for messages. */
export function shownUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

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

export type JobEnd = { state: 'completed'; value: unknown } | { state: 'failed'; reason: string } | { state: 'gone' };

/** Events can be lost while a connection is re-established: look at the job itself this often too. */
const RECHECK_MS = 5_000;

/** Resolves when the job has completed, failed or was removed (Ctrl-C on the submitter removes unstarted jobs). */
export function jobEnd(queue: Queue, queueEvents: QueueEvents, jobId: string): Promise<JobEnd> {
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
      resolve(end);
    };
    const onCompleted = ({ returnvalue }: { returnvalue: unknown }) => finish({ state: 'completed', value: returnvalue });
    const onFailed = ({ failedReason }: { failedReason: string }) => finish({ state: 'failed', reason: failedReason });
    const onRemoved = () => finish({ state: 'gone' });
    events.on(`completed:${jobId}`, onCompleted);
    events.on(`failed:${jobId}`, onFailed);
    events.on(`removed:${jobId}`, onRemoved);
    const check = async () => {
      try {
        const job = await Job.fromId(queue, jobId);
        if (!job) return finish({ state: 'gone' });
        const state = await job.getState();
        if (state === 'completed') finish({ state, value: job.returnvalue });
        else if (state === 'failed') finish({ state, reason: job.failedReason });
      } catch {
        // Redis is away: the watch of the connection decides; look again later.
      }
    };
    const timer = setInterval(() => void check(), RECHECK_MS);
    void check();
  });
}

/** A Redis client as BullMQ holds it (ioredis): what the watch needs of it. */
interface WatchedClient {
  status: string;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * Watches the connections to Redis: once one has been down for `graceMs` (reconnecting all along), `onLost` is
 * called once with the last error. A Redis that comes back within the grace goes unnoticed.
 */
export function connectionWatch(graceMs: number, onLost: (reason: string) => void) {
  const clients = new Set<WatchedClient>();
  let lastError = 'connection closed';
  let timer: NodeJS.Timeout | undefined;
  let lost = false;
  const check = () => {
    timer = undefined;
    if (lost) return;
    if ([...clients].some((c) => c.status !== 'ready')) {
      lost = true;
      onLost(lastError);
    }
  };
  const onError = (err: Error) => {
    lastError = err.message || (err as NodeJS.ErrnoException).code || String(err);
    timer ??= setTimeout(check, graceMs);
  };
  return {
    /** Watch the client of a Queue, QueueEvents, FlowProducer or Worker. */
    async add(owner: { client: Promise<unknown>; on(event: 'error', listener: (err: Error) => void): unknown }): Promise<void> {
      owner.on('error', onError);
      const client = (await owner.client) as WatchedClient;
      clients.add(client);
      client.on('error', onError);
    },
    get lost(): boolean {
      return lost;
    },
    stop(): void {
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
  };
}
