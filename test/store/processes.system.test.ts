// The artifact store across real processes: a writer killed with SIGKILL, two processes committing the same
// key at once, and the per-key lock (waiting with the holder's identity, taking over from a dead holder).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { LocalStore, type LockHolder } from '../../src/store/local-store.js';

const CHILD = fileURLToPath(new URL('../support/store-child.js', import.meta.url));
const key = (name: string): string => createHash('sha256').update(name).digest('hex');

interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`. */
  line(pattern: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function startChild(...args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
  proc.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const w of [...waiters]) {
      const line = stdout.split('\n').find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    proc,
    exited,
    line: (pattern) =>
      new Promise((resolve, reject) => {
        const found = stdout.split('\n').find((l) => pattern.test(l));
        if (found !== undefined) return resolve(found);
        waiters.push({ pattern, resolve });
        void exited.then((r) => reject(new Error(`child exited (${r.code ?? r.signal}) before printing ${pattern}: ${r.stderr}`)));
      }),
  };
}

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'pipe-store-proc-'));
}

test('a writer killed with SIGKILL leaves no entry, and its temp dir is removed by the next begin()', async () => {
  const root = await tempRoot();
  const k = key('killed');
  const child = startChild('write-slowly', root, k);
  const tempOut = (await child.line(/^writing /)).slice('writing '.length);
  child.proc.kill('SIGKILL');
  assert.equal((await child.exited).signal, 'SIGKILL');

  const store = new LocalStore(root);
  assert.ok(existsSync(tempOut), 'the killed writer left its temp dir');
  assert.equal(dirname(dirname(tempOut)), join(root, 'tmp'));
  assert.deepEqual(await store.lookup(k), { status: 'miss' });
  assert.deepEqual(await store.entries(), []);

  const other = await store.begin(key('next'), { stage: 's', uses: 'u' });
  assert.equal(existsSync(tempOut), false, 'begin() removed the dead writer\'s temp dir');
  assert.deepEqual(await readdir(join(root, 'tmp')), [basename(dirname(other.dir))]);
  await other.abort();
  await rm(root, { recursive: true, force: true });
});

test('two processes committing the same key at once both succeed and leave one sound entry', async () => {
  const root = await tempRoot();
  const k = key('race');
  const go = join(root, 'go');
  const children = [startChild('commit', root, k, go), startChild('commit', root, k, go)];
  await Promise.all(children.map((c) => c.line(/^ready$/)));
  await writeFile(go, '');
  const results = await Promise.all(children.map((c) => c.exited));
  for (const r of results) assert.equal(r.code, 0, r.stderr);

  const manifests = results.map((r) => JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!));
  assert.deepEqual(manifests[0].files, manifests[1].files);
  const store = new LocalStore(root);
  const entries = await store.entries();
  assert.equal(entries.length, 1);
  const found = await store.lookup(k);
  assert.equal(found.status, 'hit');
  assert.ok(found.status === 'hit' && children.some((c) => c.proc.pid === found.manifest.summary?.pid));
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  await rm(root, { recursive: true, force: true });
});

test('withLock waits for another live process, telling who holds the lock', async () => {
  const root = await tempRoot();
  const k = key('lock');
  const child = startChild('hold-lock', root, k);
  await child.line(/^locked$/);
  const store = new LocalStore(root);
  assert.equal((await store.lockHolder(k))?.pid, child.proc.pid);

  const holders: LockHolder[] = [];
  let released = false;
  const result = await store.withLock(
    k,
    (holder) => {
      holders.push(holder);
      released = true;
      child.proc.stdin!.end(); // let the holder finish
    },
    async () => {
      assert.equal(released, true, 'ran only after the holder was told to release');
      assert.equal((await store.lockHolder(k))?.pid, process.pid);
      return 'built';
    },
  );
  assert.equal(result, 'built');
  assert.equal(holders.length, 1);
  assert.equal(holders[0].pid, child.proc.pid);
  assert.equal(holders[0].host, hostname());
  assert.ok(Date.parse(holders[0].since) <= Date.now());
  assert.match(holders[0].command ?? '', /store-child/);
  assert.equal((await child.exited).code, 0);
  assert.equal(await store.lockHolder(k), undefined, 'released');

  // The other way round: the child waits for us and learns our pid.
  let waiter: Child | undefined;
  await store.withLock(k, () => assert.fail('free lock'), async () => {
    waiter = startChild('hold-lock', root, k);
    await waiter.line(new RegExp(`^waited ${process.pid}$`));
  });
  await waiter!.line(/^locked$/);
  waiter!.proc.stdin!.end();
  assert.equal((await waiter!.exited).code, 0);
  await rm(root, { recursive: true, force: true });
});

test('the lock of a process killed with SIGKILL is taken over without waiting', async () => {
  const root = await tempRoot();
  const k = key('dead-holder');
  const child = startChild('hold-lock', root, k);
  await child.line(/^locked$/);
  child.proc.kill('SIGKILL');
  await child.exited;

  const store = new LocalStore(root);
  assert.equal(await store.lockHolder(k), undefined, 'a dead holder holds nothing');
  let waited = false;
  const result = await store.withLock(k, () => (waited = true), async () => 'took over');
  assert.equal(result, 'took over');
  assert.equal(waited, false);
  await rm(root, { recursive: true, force: true });
});
