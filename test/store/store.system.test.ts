// The artifact store in one process, on real files: commit/lookup, damage detection, portability of a copied
// store, the stat cache, folder digests and garbage collection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { LocalStore, statCacheIn, type Manifest } from '../../src/store/local-store.js';
import { hashStats } from '../../src/store/hash.js';
import { StatCacheHasher } from '../../src/store/input-hasher.js';

/** The input hasher of a store root, as open-store.ts builds it. */
const hasherIn = (root: string) => new StatCacheHasher(statCacheIn(root));
import { selectForRemoval, type EntryInfo } from '../../src/store/gc-policy.js';

const key = (name: string): string => createHash('sha256').update(name).digest('hex');

async function tempRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'pipe-store-'));
}

/** Commit an entry with a dataset file and a model folder; returns its manifest. */
async function commitSample(store: LocalStore, k: string, content = 'pixels'): Promise<Manifest> {
  const pending = await store.begin(k, { stage: 'faces', uses: 'synthetic-faces' });
  await writeFile(join(pending.dir, 'data.arrow'), content.repeat(1000));
  await mkdir(join(pending.dir, 'model'));
  await writeFile(join(pending.dir, 'model', 'model.json'), '{"layers":[]}');
  await writeFile(join(pending.dir, 'model', 'weights.bin'), Buffer.alloc(4096, 9));
  return pending.commit({ summary: { rows: 3000 }, meta: { params: { count: 3000 } } });
}

test('commit then lookup returns the files, sizes, hashes and summary', async () => {
  const root = await tempRoot();
  const store = new LocalStore(root);
  const k = key('roundtrip');
  assert.deepEqual(await store.lookup(k), { status: 'miss' });
  const scratch = await store.scratchDir(k);
  await writeFile(join(scratch, 'checkpoint'), 'epoch 3');

  const manifest = await commitSample(store, k);
  assert.equal(manifest.key, k);
  assert.deepEqual(manifest.files.map((f) => f.path), ['data.arrow', 'model/model.json', 'model/weights.bin']);
  assert.equal(manifest.files[0].size, 6000);
  assert.equal(manifest.files[0].sha256, createHash('sha256').update('pixels'.repeat(1000)).digest('hex'));
  assert.deepEqual(manifest.summary, { rows: 3000 });

  const hashedBefore = hashStats.files;
  const found = await store.lookup(k);
  assert.equal(found.status, 'hit');
  assert.equal(hashStats.files, hashedBefore, 'files hashed at commit are not read again');
  if (found.status !== 'hit') return;
  assert.equal(found.dir, join(root, 'entries', k.slice(0, 2), k, 'out'));
  assert.equal(await readFile(join(found.dir, 'model', 'model.json'), 'utf8'), '{"layers":[]}');
  assert.deepEqual(found.manifest, manifest);
  assert.equal(store.relativeOutDir(k), `entries/${k.slice(0, 2)}/${k}/out`);

  // The scratch dir is gone, no temp tree is left, and the manifest names no machine path.
  assert.equal(existsSync(scratch), false);
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  const text = await readFile(join(root, 'entries', k.slice(0, 2), k, 'manifest.json'), 'utf8');
  assert.equal(text.includes(root), false);
  assert.equal(text.includes(tmpdir()), false);
  await rm(root, { recursive: true, force: true });
});

test('abort leaves nothing behind, and a pending entry cannot be committed twice', async () => {
  const root = await tempRoot();
  const store = new LocalStore(root);
  const k = key('abort');
  const pending = await store.begin(k, { stage: 's', uses: 'u' });
  await writeFile(join(pending.dir, 'half.bin'), 'partial');
  await pending.abort();
  assert.deepEqual(await store.lookup(k), { status: 'miss' });
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  await assert.rejects(pending.commit({}), /already aborted/);
  await pending.abort(); // a second abort is harmless

  const again = await store.begin(k, { stage: 's', uses: 'u' });
  await symlinkOrSkip(join(again.dir, 'link'));
  await assert.rejects(again.commit({}), /symbolic links/);
  assert.deepEqual(await store.lookup(k), { status: 'miss' });
  await rm(root, { recursive: true, force: true });
});

async function symlinkOrSkip(path: string): Promise<void> {
  const { symlink } = await import('node:fs/promises');
  await symlink('/dev/null', path);
}

test('keys must be hex digests (no path tricks)', async () => {
  const store = new LocalStore(await tempRoot());
  await assert.rejects(store.lookup('../../etc'), /invalid cache key/);
  await assert.rejects(store.begin('ABC', { stage: 's', uses: 'u' }), /invalid cache key/);
  assert.throws(() => new LocalStore('relative/dir'), /must be absolute/);
});

test('damaged entries are reported with the file and what is wrong, and can be discarded and rebuilt', async () => {
  const root = await tempRoot();
  const store = new LocalStore(root);
  const k = key('damage');
  await commitSample(store, k);
  const out = join(root, 'entries', k.slice(0, 2), k, 'out');
  const damaged = async (): Promise<string> => {
    const found = await store.lookup(k);
    assert.equal(found.status, 'damaged');
    return found.status === 'damaged' ? found.reason : '';
  };

  // Same size, different bytes.
  await writeFile(join(out, 'data.arrow'), 'PIXELS'.repeat(1000));
  assert.match(await damaged(), /^out\/data\.arrow: content hash [0-9a-f]{12}… ≠ [0-9a-f]{12}… in manifest$/);

  // Truncated.
  await writeFile(join(out, 'data.arrow'), 'pixels');
  assert.equal(await damaged(), 'out/data.arrow: size 6 ≠ 6000 in manifest');

  // Missing, extra, and an unreadable manifest.
  await writeFile(join(out, 'data.arrow'), 'pixels'.repeat(1000));
  assert.equal((await store.lookup(k)).status, 'hit');
  await rm(join(out, 'model', 'weights.bin'));
  assert.equal(await damaged(), 'out/model/weights.bin: missing');
  await writeFile(join(out, 'model', 'weights.bin'), Buffer.alloc(4096, 9));
  await writeFile(join(out, 'stray.txt'), 'x');
  assert.equal(await damaged(), 'out/stray.txt: not in manifest');
  await rm(join(out, 'stray.txt'));
  const manifestPath = join(root, 'entries', k.slice(0, 2), k, 'manifest.json');
  const manifestText = await readFile(manifestPath, 'utf8');
  await writeFile(manifestPath, manifestText.slice(0, 40));
  assert.match(await damaged(), /^manifest\.json: not valid JSON/);
  await writeFile(manifestPath, manifestText);
  assert.equal((await store.lookup(k)).status, 'hit');

  await store.discard(k);
  assert.deepEqual(await store.lookup(k), { status: 'miss' });
  assert.equal(existsSync(join(root, 'entries', k.slice(0, 2), k)), false);
  await commitSample(store, k);
  assert.equal((await store.lookup(k)).status, 'hit');
  await rm(root, { recursive: true, force: true });
});

test('a change that keeps size, mtime and inode is caught by its ctime, and by a rehashing lookup', async () => {
  const root = await tempRoot();
  const store = new LocalStore(root);
  const k = key('sneaky');
  await commitSample(store, k);
  const file = join(root, 'entries', k.slice(0, 2), k, 'out', 'data.arrow');
  // A whole-second mtime that utimes can restore exactly.
  const when = new Date(Math.floor(Date.now() / 1000) * 1000 - 5000);
  await utimes(file, when, when);
  assert.equal((await store.lookup(k)).status, 'hit');
  const before = await stat(file);
  await writeFile(file, 'PIXELS'.repeat(1000)); // same inode: writeFile truncates in place
  await utimes(file, when, when);
  const after = await stat(file);
  assert.deepEqual([after.ino, after.size, after.mtimeMs], [before.ino, before.size, before.mtimeMs]);
  // The write moved the ctime, which nobody can set back (git compares it for the same reason).
  assert.notEqual(after.ctimeMs, before.ctimeMs);
  assert.equal((await store.lookup(k)).status, 'damaged', 'the stat cache compares ctime');
  const found = await store.lookup(k, { rehash: true });
  assert.equal(found.status, 'damaged');
  await rm(root, { recursive: true, force: true });
});

test('a store copied elsewhere (new paths, mtimes and inodes) still hits after hashing once', async () => {
  const root = await tempRoot();
  const store = new LocalStore(root);
  const k = key('portable');
  await commitSample(store, k);
  const copy = join(await tempRoot(), 'moved-store');
  execFileSync('cp', ['-r', root, copy]);

  const moved = new LocalStore(copy);
  const first = hashStats.files;
  const found = await moved.lookup(k);
  assert.equal(found.status, 'hit');
  assert.equal(found.status === 'hit' && found.dir.startsWith(copy), true);
  assert.equal(hashStats.files - first, 3, 'each of the 3 files re-hashed once');
  const second = hashStats.files;
  assert.equal((await new LocalStore(copy).lookup(k)).status, 'hit');
  assert.equal(hashStats.files - second, 0, 'then remembered across store instances');
  await rm(root, { recursive: true, force: true });
  await rm(copy, { recursive: true, force: true });
});

test('hashFile reads a file once, remembers it across instances, and notices changed content', async () => {
  const root = await tempRoot();
  const input = join(await tempRoot(), 'fer.csv');
  await writeFile(input, 'emotion,pixels,Usage\n0,1 2 3,Training\n');
  const old = new Date(Date.now() - 60_000);
  await utimes(input, old, old); // not "racy": written well before it is hashed

  const expected = createHash('sha256').update('emotion,pixels,Usage\n0,1 2 3,Training\n').digest('hex');
  const start = hashStats.files;
  assert.equal(await hasherIn(root).hashFile(input), expected);
  assert.equal(hashStats.files - start, 1);
  assert.equal(await hasherIn(root).hashFile(input), expected);
  assert.equal(hashStats.files - start, 1, 'second instance uses the persisted stat cache');
  const saved = JSON.parse(await readFile(join(root, 'stat-cache.json'), 'utf8'));
  assert.equal(saved.files[input].sha256, expected);

  // Same size, new content, new mtime: hashed again.
  await writeFile(input, 'emotion,pixels,Usage\n6,1 2 3,Training\n');
  const changed = await hasherIn(root).hashFile(input);
  assert.notEqual(changed, expected);
  assert.equal(hashStats.files - start, 2);

  // A file modified moments ago could change again within the same timestamp: never remembered.
  const store = hasherIn(root);
  await writeFile(input, 'fresh');
  await store.hashFile(input);
  await store.hashFile(input);
  assert.equal(hashStats.files - start, 4);
  await rm(root, { recursive: true, force: true });
});

test('stat cache saves from several store instances merge instead of overwriting each other', async () => {
  const root = await tempRoot();
  const dir = await tempRoot();
  const old = new Date(Date.now() - 60_000);
  const files = ['f1', 'f2', 'f3'].map((n) => join(dir, n));
  for (const f of files) {
    await writeFile(f, f);
    await utimes(f, old, old);
  }
  const a = hasherIn(root);
  const b = hasherIn(root);
  await a.hashFile(files[0]); // a now holds {f1}
  await b.hashFile(files[1]); // b read {f1} and wrote {f1, f2}
  await a.hashFile(files[2]); // a must merge: {f1, f2, f3}, not {f1, f3}
  const saved = JSON.parse(await readFile(join(root, 'stat-cache.json'), 'utf8'));
  assert.deepEqual(Object.keys(saved.files).sort(), [...files].sort());
  const start = hashStats.files;
  for (const f of files) await hasherIn(root).hashFile(f);
  assert.equal(hashStats.files, start);
  await rm(root, { recursive: true, force: true });
  await rm(dir, { recursive: true, force: true });
});

test('hashDir depends on relative paths and contents only', async () => {
  const store = hasherIn(await tempRoot());
  const make = async (files: Record<string, string>): Promise<string> => {
    const dir = await tempRoot();
    for (const [rel, content] of Object.entries(files)) {
      await mkdir(join(dir, rel, '..'), { recursive: true });
      await writeFile(join(dir, rel), content);
    }
    return dir;
  };
  const a = await store.hashDir(await make({ 'a.txt': '1', 'sub/b.txt': '2' }));
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(await store.hashDir(await make({ 'sub/b.txt': '2', 'a.txt': '1' })), a);
  assert.notEqual(await store.hashDir(await make({ 'a.txt': '1', 'sub/c.txt': '2' })), a);
  assert.notEqual(await store.hashDir(await make({ 'a.txt': '1', 'sub/b.txt': '3' })), a);
});

async function setLastUsed(store: LocalStore, k: string, daysAgo: number): Promise<void> {
  const when = new Date(Date.now() - daysAgo * 86_400_000);
  await utimes(store.entryDir(k), when, when);
}

test('gc removes least recently used entries by age, count and size, never the kept ones', async () => {
  const root = await tempRoot();
  const store = new LocalStore(root);
  const keys = ['a', 'b', 'c', 'd'].map(key);
  for (const [i, k] of keys.entries()) {
    await commitSample(store, k, `v${i}`);
    await setLastUsed(store, k, 40 - i * 10); // a: 40 days, b: 30, c: 20, d: 10
  }
  const entries = await store.entries();
  assert.deepEqual(entries.map((e) => e.key).sort(), [...keys].sort());
  const entryBytes = entries[0].bytes;
  assert.ok(entryBytes > 2000 + 4096);
  assert.deepEqual(new Set(entries.map((e) => e.stage)), new Set(['faces']));

  // Dry run: reports, removes nothing.
  const dry = await store.gc({ maxEntries: 0, keep: new Set(), dryRun: true });
  assert.equal(dry.removed.length, 4);
  assert.equal((await store.entries()).length, 4);

  // Age: a (40 days) and b (30 days) are older than 25 days, but a is kept.
  const byAge = await store.gc({ maxAgeDays: 25, keep: new Set([keys[0]]) });
  assert.deepEqual(byAge.removed.map((e) => e.key), [keys[1]]);
  assert.equal(byAge.keptBytes, 3 * entryBytes);

  // touch() makes an entry the most recently used: count bound removes c, not a kept one nor d.
  await store.touch(keys[2]);
  const byCount = await store.gc({ maxEntries: 1, keep: new Set([keys[0]]) });
  assert.deepEqual(byCount.removed.map((e) => e.key), [keys[3], keys[2]]);
  assert.deepEqual((await store.entries()).map((e) => e.key), [keys[0]]);

  // Size bound below the kept entry's size: the kept one stays anyway.
  const bySize = await store.gc({ maxBytes: 1, keep: new Set([keys[0]]) });
  assert.deepEqual(bySize.removed, []);
  assert.equal((await store.lookup(keys[0])).status, 'hit');
  // An entry whose lock a live process holds (being rebuilt or read) is skipped.
  const locked = await store.withLock(keys[0], () => assert.fail('free'), () => store.gc({ maxBytes: 1, keep: new Set() }));
  assert.deepEqual(locked.removed, []);
  const all = await store.gc({ maxBytes: 1, keep: new Set() });
  assert.deepEqual(all.removed.map((e) => e.key), [keys[0]]);
  assert.equal(all.keptBytes, 0);
  assert.equal((await store.lookup(keys[0])).status, 'miss');

  // Forgotten hashes of removed files are dropped from the stat cache.
  const cache = JSON.parse(await readFile(join(root, 'stat-cache.json'), 'utf8'));
  assert.deepEqual(Object.keys(cache.files), []);
  await rm(root, { recursive: true, force: true });
});

test('selectForRemoval: LRU order, bounds counted over kept entries too, damaged entries always go', () => {
  const day = 86_400_000;
  const now = Date.parse('2026-01-31T00:00:00Z');
  const e = (k: string, daysAgo: number, bytes: number, damaged?: string): EntryInfo => ({
    key: k, stage: k, uses: 'u', createdAt: '', bytes, lastUsedAt: new Date(now - daysAgo * day).toISOString(), damaged,
  });
  const entries = [e('k1', 1, 100), e('k2', 5, 100), e('k3', 3, 100), e('k4', 9, 500), e('k5', 0, 10, 'manifest.json: missing')];
  const keys = (list: EntryInfo[]) => list.map((x) => x.key);
  assert.deepEqual(keys(selectForRemoval(entries, { keep: new Set() }, now)), ['k5']);
  assert.deepEqual(keys(selectForRemoval(entries, { keep: new Set(['k5']) }, now)), []);
  assert.deepEqual(keys(selectForRemoval(entries, { maxAgeDays: 4, keep: new Set() }, now)), ['k4', 'k2', 'k5']);
  assert.deepEqual(keys(selectForRemoval(entries, { maxEntries: 2, keep: new Set(['k4']) }, now)), ['k2', 'k3', 'k5']);
  assert.deepEqual(keys(selectForRemoval(entries, { maxBytes: 250, keep: new Set() }, now)), ['k4', 'k2', 'k5']);
  assert.deepEqual(keys(selectForRemoval(entries, { maxBytes: 250, keep: new Set(['k4']) }, now)), ['k2', 'k3', 'k1', 'k5']);
});

test('a lookup racing a commit of the same key sees a miss or a hit, never a damaged entry', async () => {
  const root = await tempRoot();
  const writer = new LocalStore(root);
  const reader = new LocalStore(root); // another process's view of the same store
  const seen = new Set<string>();
  for (let i = 0; i < 150; i++) {
    const k = key(`race-${i}`);
    const pending = await writer.begin(k, { stage: 's', uses: 'u' });
    await writeFile(join(pending.dir, 'data.bin'), `entry ${i}`);
    let committed = false;
    const commit = pending.commit({}).then(() => (committed = true));
    for (;;) {
      const found = await reader.lookup(k);
      seen.add(found.status);
      assert.notEqual(found.status, 'damaged', `entry ${i}: ${found.status === 'damaged' ? found.reason : ''}`);
      if (found.status === 'hit' || committed) break;
    }
    await commit;
  }
  assert.ok(seen.has('hit'));
  await rm(root, { recursive: true, force: true });
});

test('abort after a commit keeps the committed entry', async () => {
  const root = await tempRoot();
  const store = new LocalStore(root);
  const k = key('abort-after-commit');
  const pending = await store.begin(k, { stage: 's', uses: 'u' });
  await writeFile(join(pending.dir, 'data.bin'), 'kept');
  await pending.commit({});
  await pending.abort();
  assert.equal((await store.lookup(k)).status, 'hit');
  await rm(root, { recursive: true, force: true });
});
