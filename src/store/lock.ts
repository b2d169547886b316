// An exclusive lock per name across processes, as a file `<dir>/<name>.lock` holding its owner
// ({pid, host, since, command}). The file appears complete in one step (written aside, then hard-linked into
// place, which fails if it exists), so a waiter always reads a whole holder.
//
// A lock whose owner died without releasing it (SIGKILL, power loss) is taken over: on the same host when the
// owner's pid is no longer alive; from another host when the holder's heartbeat (the file's mtime, refreshed
// every HEARTBEAT_MS) is older than STALE_MS. Takeover renames the stale file away (one process wins) and
// checks it moved the file it judged stale.
import { link, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isErrno } from './fs-utils.js';
import { isProcessAlive, ownedName } from '../owner.js';

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** The holder's command line, when known (e.g. "pipe run pipelines/fer.yaml"). */
  command?: string;
}

interface LockFileContent extends LockHolder {
  token: string;
}

const HEARTBEAT_MS = 10_000;
const STALE_MS = 60_000;
const POLL_MIN_MS = 25;
const POLL_MAX_MS = 500;

/** Locks this process holds, released on exit even when the process ends without unwinding (process.exit). */
const held = new Map<string, string>(); // lock path -> token
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [path, token] of held) {
      try {
        const content = JSON.parse(readFileSync(path, 'utf8')) as LockFileContent;
        if (content.token === token) unlinkSync(path);
      } catch {
        // already gone
      }
    }
  });
}

function commandLine(): string {
  return process.argv.slice(1).map((a) => a.replace(/^.*[\\/](pipe|pipe\.js)$/, 'pipe')).join(' ');
}

async function readHolder(path: string): Promise<{ content?: LockFileContent; mtimeMs: number } | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
    try {
      return { content: JSON.parse(text) as LockFileContent, mtimeMs: st.mtimeMs };
    } catch {
      return { mtimeMs: st.mtimeMs };
    }
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

function isStale(holder: { content?: LockFileContent; mtimeMs: number }): boolean {
  const { content } = holder;
  if (content && content.host === hostname()) return !isProcessAlive(content.pid);
  // Another host (or unreadable content, which our writes never produce): trust the heartbeat.
  return Date.now() - holder.mtimeMs > STALE_MS;
}

/** Try once; resolves to the token when acquired, or the current holder's state when not. */
async function tryAcquire(dir: string, path: string, command?: string): Promise<{ token: string } | { busy: { content?: LockFileContent; mtimeMs: number } }> {
  const token = randomBytes(8).toString('hex');
  const content: LockFileContent = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command: command ?? commandLine(), token };
  const aside = join(dir, ownedName('lock-new'));
  await writeFile(aside, JSON.stringify(content));
  try {
    await link(aside, path);
    return { token };
  } catch (err) {
    if (!isErrno(err, 'EEXIST')) throw err;
  } finally {
    await unlink(aside).catch(() => undefined);
  }
  const busy = await readHolder(path);
  if (!busy) return tryAcquire(dir, path, command); // released meanwhile
  return { busy };
}

/** Remove a stale lock file, making sure the file removed is the one judged stale. */
async function takeOver(dir: string, path: string, stale: { content?: LockFileContent }): Promise<void> {
  const aside = join(dir, ownedName('lock-stale'));
  try {
    await rename(path, aside);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return; // someone else took it over
    throw err;
  }
  const moved = await readHolder(aside);
  if (moved?.content?.token !== stale.content?.token) {
    // A live lock appeared between our check and the rename: put it back (fails only if yet another process
    // locked meanwhile, which cannot be undone; the window is a few microseconds).
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
}

export interface LockOptions {
  /** Called once, with the holder, if the lock is busy when first tried. */
  onWait?: (holder: LockHolder) => void;
  /** Recorded as the holder's command (default: this process's argv). */
  command?: string;
  signal?: AbortSignal;
}

/** Holds `<dir>/<name>.lock` while `fn` runs. */
export async function withFileLock<T>(dir: string, name: string, options: LockOptions, fn: () => Promise<T>): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.lock`);
  let waited = false;
  let delay = POLL_MIN_MS;
  let token: string | undefined;
  for (;;) {
    options.signal?.throwIfAborted();
    const attempt = await tryAcquire(dir, path, options.command);
    if ('token' in attempt) {
      token = attempt.token;
      break;
    }
    if (isStale(attempt.busy)) {
      await takeOver(dir, path, attempt.busy);
      continue;
    }
    if (!waited) {
      waited = true;
      const c = attempt.busy.content;
      options.onWait?.({ pid: c?.pid ?? 0, host: c?.host ?? '?', since: c?.since ?? new Date(attempt.busy.mtimeMs).toISOString(), command: c?.command });
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(POLL_MAX_MS, delay * 2);
  }
  installExitHook();
  held.set(path, token);
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    held.delete(path);
    await release(path, token);
  }
}

async function release(path: string, token: string): Promise<void> {
  const current = await readHolder(path);
  if (current?.content?.token === token) await unlink(path).catch(() => undefined);
}

/** The live holder of a lock, if any (stale locks count as free). */
export async function lockHolder(dir: string, name: string): Promise<LockHolder | undefined> {
  const state = await readHolder(join(dir, `${name}.lock`));
  if (!state || isStale(state)) return undefined;
  const c = state.content;
  return { pid: c?.pid ?? 0, host: c?.host ?? '?', since: c?.since ?? new Date(state.mtimeMs).toISOString(), command: c?.command };
}
