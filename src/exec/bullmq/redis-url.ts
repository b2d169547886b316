// Where the queue is: BullMQ connection options from a redis:// URL, and the URL as messages show it. Kept apart
// from BullMQ itself, so commands that only name the queue do not load it.
import type { ConnectionOptions } from 'bullmq';
import { PipeError } from '../../errors.js';

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
