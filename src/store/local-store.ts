// The local tier of the artifact cache: one immutable entry per cache key in a folder on this machine, holding
// the files a stage wrote and a manifest of their sizes and hashes.
//
// Layout under the root (created lazily):
//   entries/<k0k1>/<key>/manifest.json   the Manifest below
//   entries/<k0k1>/<key>/out/...         the stage's output files
//   tmp/<key>.<pid>.<host>.<rand>/       entries being written (same shape), and trees being deleted
//   scratch/<key>/                       a stage's scratch space: survives failures (to resume), removed on commit
//   locks/<key>.lock                     per-key locks ({pid, host, since, command})
//   stat-cache.json                      hashes of files by path + (size, mtimeMs, ino), see stat-cache.ts
//   runs/                                run records (the run log, run-log.ts)
//
// Guarantees:
// - An entry becomes visible in one rename, after its files and manifest are flushed to disk, so a crash or
//   SIGKILL at any point leaves either no entry or a complete one. Temp dirs of dead processes are removed
//   by the next begin() or gc().
// - lookup() verifies an entry (every file present with its recorded size and hash, nothing extra) before
//   reporting a hit; unchanged files are not re-read thanks to the stat cache.
// - Manifests hold relative paths only, so a store copied elsewhere (cp -r) still hits after one re-hash.
//
// Usage (through ArtifactCache, which adds the remote tier):
//   const found = await store.lookup(key);
//   if (found.status === 'hit') { await store.touch(key); use(found.dir); }
//   else {
//     await store.withLock(key, (h) => say(`waiting for pid ${h.pid}`), async () => {
//       const again = await store.lookup(key);               // another process may have built it meanwhile
//       if (again.status === 'hit') return again;
//       if (again.status === 'damaged') await store.discard(key); // only under the lock
//       const pending = await store.begin(key, { stage: id, uses });
//       try { summary = await stage.run(ctx(pending.dir, await store.scratchDir(key))); }
//       catch (e) { await pending.abort(); throw e; }
//       return pending.commit({ summary, meta });
//     });
//   }
import { mkdir, open, readFile, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { plainPathProblem } from '../plain-path.js';
import { fsyncDir, isErrno, moveAsideAndRemove, READ_ONLY_CODES, walkFiles } from './fs-utils.js';
import { lockHolder, withFileLock, type LockHolder } from './lock.js';
import { hostTag, isProcessAlive, ownedName, parseOwnedName } from '../owner.js';
import { StatCache } from './stat-cache.js';
import { selectForRemoval, type EntryInfo, type GcPolicy } from './gc-policy.js';

export type { LockHolder } from './lock.js';
export type { EntryInfo, GcPolicy } from './gc-policy.js';

export interface ManifestFile {
  /** Relative to the entry's out/ dir, '/' separators. */
  path: string;
  size: number;
  sha256: string;
}

export interface Manifest {
  formatVersion: 1;
  key: string;
  /** Stage id in the pipeline. */
  stage: string;
  uses: string;
  createdAt: string;
  /** Sorted by path. */
  files: ManifestFile[];
  /** What the stage's run() returned. */
  summary?: Record<string, unknown>;
  /** The caller's: params, input keys, code hash... Must not hold absolute paths (entries are portable). */
  meta?: Record<string, unknown>;
}

export type Lookup =
  | { status: 'hit'; dir: string; manifest: Manifest }
  | { status: 'miss' }
  | { status: 'damaged'; reason: string };

export interface PendingEntry {
  /** Absolute path of the temp out/ dir the stage writes into. */
  dir: string;
  /**
   * Hash every file, write the manifest, flush, and rename the entry into place. If another process
   * committed the same key meanwhile, its (valid) entry is kept, ours deleted, and its manifest returned.
   * Removes scratchDir(key).
   */
  commit(extra: { summary?: Record<string, unknown>; meta?: Record<string, unknown>; expected?: Manifest }): Promise<Manifest>;
  /** Delete the temp entry. */
  abort(): Promise<void>;
}

const KEY = /^[0-9a-f]{8,128}$/;
/** Temp trees of another host are removed only when this old (we cannot tell if their owner lives). */
const FOREIGN_TMP_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
const MANIFEST = 'manifest.json';
const OUT = 'out';

function checkKey(key: string): void {
  if (!KEY.test(key)) throw new Error(`invalid cache key '${key}': expected lowercase hex (a sha256 digest)`);
}

export class LocalStore {
  readonly root: string;
  private readonly statCache: StatCache;
  private tempSwept = false;

  /** `statCache` is shared with the input hasher when both live in one root (see open-store.ts). */
  constructor(root: string, statCache?: StatCache) {
    if (!isAbsolute(root)) throw new Error(`LocalStore root must be absolute, got '${root}'`);
    this.root = resolve(root);
    this.statCache = statCache ?? statCacheIn(this.root);
  }

  get entriesDir(): string {
    return join(this.root, 'entries');
  }
  get tmpDir(): string {
    return join(this.root, 'tmp');
  }
  get scratchRoot(): string {
    return join(this.root, 'scratch');
  }
  get locksDir(): string {
    return join(this.root, 'locks');
  }

  /**
   * Why this process cannot write to the store (EROFS, EACCES …), or undefined when it can: a probe file is
   * created and removed at the root (created if missing).
   */
  async writeProblem(): Promise<NodeJS.ErrnoException | undefined> {
    try {
      await mkdir(this.root, { recursive: true });
      const probe = join(this.root, ownedName('write-probe'));
      await (await open(probe, 'wx')).close();
      await rm(probe, { force: true });
      return undefined;
    } catch (err) {
      if (isErrno(err, ...READ_ONLY_CODES)) return err as NodeJS.ErrnoException;
      throw err;
    }
  }

  /** Absolute path of an entry's folder (holding manifest.json and out/), whether or not it exists. */
  entryDir(key: string): string {
    checkKey(key);
    return join(this.entriesDir, key.slice(0, 2), key);
  }

  /** Path of an entry's out/ folder relative to the root, '/' separators (for run records). */
  relativeOutDir(key: string): string {
    checkKey(key);
    return `entries/${key.slice(0, 2)}/${key}/${OUT}`;
  }

  /** With `rehash`, every file is read again even if its stat is unchanged (pipe cache verify). */
  async lookup(key: string, options: { rehash?: boolean } = {}): Promise<Lookup> {
    const entry = this.entryDir(key);
    let text = await readManifestText(entry);
    if (text === undefined) {
      try {
        await stat(entry);
      } catch {
        return { status: 'miss' };
      }
      // The entry may have been renamed into place between our two looks (another process committing it):
      // it then holds its manifest. Only a folder that still lacks one is damaged.
      text = await readManifestText(entry);
      if (text === undefined) return { status: 'damaged', reason: `${MANIFEST}: missing` };
    }
    const manifest = parseManifest(text, key);
    if (typeof manifest === 'string') return { status: 'damaged', reason: `${MANIFEST}: ${manifest}` };
    const outDir = join(entry, OUT);
    const reason = await this.verifyFiles(outDir, manifest.files, options.rehash ?? false);
    await this.statCache.save();
    if (reason) return { status: 'damaged', reason };
    return { status: 'hit', dir: outDir, manifest };
  }

  /** undefined when every file matches the manifest, else what is wrong with the first bad file. */
  private async verifyFiles(outDir: string, files: ManifestFile[], rehash: boolean): Promise<string | undefined> {
    let present;
    const specials: string[] = [];
    try {
      present = await walkFiles(outDir, (rel) => specials.push(rel));
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return files.length ? `${OUT}/: missing` : undefined;
      throw err;
    }
    const listed = new Set(files.map((f) => f.path));
    const extra = [...present.map((f) => f.rel), ...specials].find((rel) => !listed.has(rel));
    if (extra !== undefined) return `${OUT}/${extra}: not in manifest`;
    // Cheap checks (existence, size) on every file first, so that a missing file is reported before any
    // expensive hashing happens.
    const stats = [];
    for (const file of files) {
      const abs = join(outDir, ...file.path.split('/'));
      let st;
      try {
        st = await stat(abs);
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return `${OUT}/${file.path}: missing`;
        throw err;
      }
      if (st.size !== file.size) return `${OUT}/${file.path}: size ${st.size} ≠ ${file.size} in manifest`;
      stats.push({ file, abs, st });
    }
    for (const { file, abs, st } of stats) {
      const { sha256 } = await this.statCache.hash(abs, { final: true, ignoreCache: rehash }, st);
      if (sha256 !== file.sha256) return `${OUT}/${file.path}: content hash ${sha256.slice(0, 12)}… ≠ ${file.sha256.slice(0, 12)}… in manifest`;
    }
    return undefined;
  }

  async discard(key: string): Promise<void> {
    const entry = this.entryDir(key);
    if (await moveAsideAndRemove(entry, this.tmpDir, `discard-${key}`)) {
      this.statCache.forgetUnder(entry);
      await this.statCache.save();
    }
  }

  async begin(key: string, info: { stage: string; uses: string }): Promise<PendingEntry> {
    checkKey(key);
    if (!this.tempSwept) {
      this.tempSwept = true;
      await this.sweepTemp();
    }
    const tempEntry = join(this.tmpDir, ownedName(key));
    const outDir = join(tempEntry, OUT);
    await mkdir(outDir, { recursive: true });
    let state: 'open' | 'committed' | 'aborted' = 'open';
    return {
      dir: outDir,
      commit: async (extra) => {
        if (state !== 'open') throw new Error(`pending entry ${key} was already ${state}`);
        state = 'committed';
        try {
          return await this.commitEntry(key, info, tempEntry, extra);
        } finally {
          await rm(tempEntry, { recursive: true, force: true });
        }
      },
      // Harmless after a commit (the temp tree is gone then) and when repeated, so that a caller's cleanup
      // path never hides the error that sent it there.
      abort: async () => {
        if (state === 'open') state = 'aborted';
        await rm(tempEntry, { recursive: true, force: true });
      },
    };
  }

  /**
   * Bring in an entry built elsewhere (the remote tier): `fill` writes its files into a temp entry, which is
   * then committed like a local build, but only if every file matches `manifest` (paths, sizes, SHA-256);
   * otherwise nothing is stored and the promise rejects with a CorruptEntryError.
   */
  async receive(manifest: Manifest, fill: (outDir: string) => Promise<void>): Promise<Manifest> {
    const pending = await this.begin(manifest.key, { stage: manifest.stage, uses: manifest.uses });
    try {
      await fill(pending.dir);
    } catch (err) {
      await pending.abort();
      throw err;
    }
    return pending.commit({ summary: manifest.summary, meta: manifest.meta, expected: manifest });
  }

  private async commitEntry(
    key: string,
    info: { stage: string; uses: string },
    tempEntry: string,
    extra: { summary?: Record<string, unknown>; meta?: Record<string, unknown>; expected?: Manifest },
  ): Promise<Manifest> {
    const outDir = join(tempEntry, OUT);
    const specials: string[] = [];
    const tree = await walkFiles(outDir, (rel) => specials.push(rel));
    if (specials.length) {
      throw new Error(`stage ${info.stage} wrote ${specials.map((s) => `out/${s}`).join(', ')}: only regular files and folders can be cached (no symbolic links)`);
    }
    const files: ManifestFile[] = [];
    const stats = [];
    for (const file of tree) {
      const { sha256, size, stat: st } = await this.statCache.hash(file.abs, { fsync: true, remember: false });
      files.push({ path: file.rel, size, sha256 });
      stats.push({ rel: file.rel, st, sha256 });
    }
    if (extra.expected) {
      const problem = compareFiles(files, extra.expected.files);
      if (problem) throw new CorruptEntryError(`${problem}`);
    }
    const manifest: Manifest = {
      formatVersion: 1,
      key,
      stage: info.stage,
      uses: info.uses,
      createdAt: extra.expected?.createdAt ?? new Date().toISOString(),
      files,
      ...(extra.summary === undefined ? {} : { summary: extra.summary }),
      ...(extra.meta === undefined ? {} : { meta: extra.meta }),
    };
    const handle = await open(join(tempEntry, MANIFEST), 'w');
    try {
      await handle.writeFile(`${JSON.stringify(manifest, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    for (const dir of new Set(tree.map((f) => join(outDir, ...f.rel.split('/').slice(0, -1))))) await fsyncDir(dir);
    await fsyncDir(outDir);
    await fsyncDir(tempEntry);

    const target = this.entryDir(key);
    await mkdir(join(target, '..'), { recursive: true });
    let result = manifest;
    for (let attempt = 0; ; attempt++) {
      try {
        await rename(tempEntry, target);
        await fsyncDir(join(target, '..'));
        const now = new Date();
        await utimes(target, now, now).catch(() => undefined);
        // Same inodes after the rename: record the hashes under their final paths.
        for (const { rel, st, sha256 } of stats) this.statCache.remember(join(target, OUT, ...rel.split('/')), st, sha256);
        break;
      } catch (err) {
        if (!isErrno(err, 'EEXIST', 'ENOTEMPTY', 'EPERM') || attempt > 0) throw err;
        // Another process committed this key first: keep its entry if it is sound (the same key means the
        // same content), else replace it.
        const existing = await this.lookup(key);
        if (existing.status === 'hit') {
          result = existing.manifest;
          break;
        }
        await this.discard(key);
      }
    }
    await this.statCache.save();
    await rm(join(this.scratchRoot, key), { recursive: true, force: true });
    return result;
  }

  async scratchDir(key: string): Promise<string> {
    checkKey(key);
    const dir = join(this.scratchRoot, key);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Whether a stage left something in its scratch space (a checkpoint to resume from). */
  async hasScratch(key: string): Promise<boolean> {
    checkKey(key);
    return (await readdir(join(this.scratchRoot, key)).catch(() => [])).length > 0;
  }

  async clearScratch(key: string): Promise<void> {
    checkKey(key);
    await moveAsideAndRemove(join(this.scratchRoot, key), this.tmpDir, `scratch-${key}`);
  }

  withLock<T>(key: string, onWait: (holder: LockHolder) => void, fn: () => Promise<T>): Promise<T> {
    checkKey(key);
    return withFileLock(this.locksDir, key, { onWait }, fn);
  }

  /** The live holder of a key's lock, if any. */
  lockHolder(key: string): Promise<LockHolder | undefined> {
    checkKey(key);
    return lockHolder(this.locksDir, key);
  }

  async entries(): Promise<EntryInfo[]> {
    const result: EntryInfo[] = [];
    let shards: string[];
    try {
      shards = await readdir(this.entriesDir);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return result;
      throw err;
    }
    for (const shard of shards.sort()) {
      let keys: string[];
      try {
        keys = await readdir(join(this.entriesDir, shard));
      } catch {
        continue;
      }
      for (const key of keys.sort()) {
        if (!KEY.test(key)) continue;
        result.push(await this.entryInfo(key));
      }
    }
    return result;
  }

  private async entryInfo(key: string): Promise<EntryInfo> {
    const dir = this.entryDir(key);
    const st = await stat(dir);
    const lastUsedAt = st.mtime.toISOString();
    try {
      const text = await readFile(join(dir, MANIFEST), 'utf8');
      const manifest = parseManifest(text, key);
      if (typeof manifest === 'string') throw new Error(manifest);
      const bytes = manifest.files.reduce((sum, f) => sum + f.size, Buffer.byteLength(text));
      return { key, stage: manifest.stage, uses: manifest.uses, createdAt: manifest.createdAt, bytes, lastUsedAt };
    } catch (err) {
      let bytes = 0;
      for (const f of await walkFiles(dir).catch(() => [])) bytes += (await stat(f.abs).catch(() => ({ size: 0 }))).size;
      const damaged = `${MANIFEST}: ${err instanceof Error ? err.message : String(err)}`;
      return { key, stage: '', uses: '', createdAt: lastUsedAt, bytes, lastUsedAt, damaged };
    }
  }

  /**
   * Every readable manifest with the time its entry was last used, unverified: for explanations (pipe status),
   * never for using an entry's files.
   */
  async manifests(): Promise<{ manifest: Manifest; lastUsedAt: string }[]> {
    const out: { manifest: Manifest; lastUsedAt: string }[] = [];
    for (const entry of await this.entries()) {
      if (entry.damaged) continue;
      const text = await readManifestText(this.entryDir(entry.key)).catch(() => undefined);
      const manifest = text === undefined ? undefined : parseManifest(text, entry.key);
      if (manifest && typeof manifest !== 'string') out.push({ manifest, lastUsedAt: entry.lastUsedAt });
    }
    return out;
  }

  /** Record that an entry was used now (its folder's mtime), for gc by age. */
  async touch(key: string): Promise<void> {
    const now = new Date();
    await utimes(this.entryDir(key), now, now).catch((err) => {
      // A read-only store (a restored CI cache, a shared mount) still serves its entries; only gc's age is lost.
      if (!isErrno(err, 'ENOENT', ...READ_ONLY_CODES)) throw err;
    });
  }

  /**
   * Remove least recently used entries not in `policy.keep` (see gc-policy.ts), skipping any whose lock a
   * live process holds; also removes temp trees of dead processes and forgets hashes of files gone.
   * With `dryRun`, only reports what it would remove.
   */
  async gc(policy: GcPolicy & { dryRun?: boolean }): Promise<{ removed: EntryInfo[]; keptBytes: number }> {
    const all = await this.entries();
    const selected = selectForRemoval(all, policy);
    const removed: EntryInfo[] = [];
    for (const entry of selected) {
      if (await lockHolder(this.locksDir, entry.key)) continue; // being rebuilt or read right now
      if (!policy.dryRun) await this.discard(entry.key);
      removed.push(entry);
    }
    if (!policy.dryRun) {
      await this.sweepTemp();
      await this.statCache.prune();
      await this.statCache.save();
    }
    const gone = new Set(removed.map((e) => e.key));
    const keptBytes = all.reduce((sum, e) => sum + (gone.has(e.key) ? 0 : e.bytes), 0);
    return { removed, keptBytes };
  }

  /** Remove temp trees and stray lock files whose owner process is dead. */
  private async sweepTemp(): Promise<void> {
    for (const dir of [this.tmpDir, this.locksDir]) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        const owner = parseOwnedName(name);
        if (!owner) continue;
        const path = join(dir, name);
        // Our own pid counts as alive: this process may be writing it right now.
        let dead: boolean;
        if (owner.host === hostTag()) dead = !isProcessAlive(owner.pid);
        else dead = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? Date.now()) > FOREIGN_TMP_MAX_AGE_MS;
        if (dead) await rm(path, { recursive: true, force: true });
      }
    }
  }
}

/** Files received for an entry do not match its manifest. */
export class CorruptEntryError extends Error {}

/** What differs between the files found and the files a manifest lists, or undefined. */
function compareFiles(found: ManifestFile[], listed: ManifestFile[]): string | undefined {
  const byPath = new Map(found.map((f) => [f.path, f]));
  for (const want of listed) {
    const got = byPath.get(want.path);
    if (!got) return `${want.path}: missing`;
    if (got.size !== want.size) return `${want.path}: size ${got.size} ≠ ${want.size} in manifest`;
    if (got.sha256 !== want.sha256) return `${want.path}: content hash ${got.sha256.slice(0, 12)}… ≠ ${want.sha256.slice(0, 12)}… in manifest`;
    byPath.delete(want.path);
  }
  const extra = [...byPath.keys()][0];
  return extra === undefined ? undefined : `${extra}: not in manifest`;
}

/** The manifest in `text`, or what is wrong with it (paths that leave the entry included). */
export function manifestFromText(text: string, key: string): Manifest | string {
  return parseManifest(text, key);
}

/** The stat cache kept in a store root, shared by its input hasher and its local tier. */
export function statCacheIn(root: string): StatCache {
  return new StatCache(join(root, 'stat-cache.json'), join(root, 'locks'), join(root, 'tmp'));
}

/** The text of an entry's manifest, or undefined when there is none. */
async function readManifestText(entry: string): Promise<string | undefined> {
  try {
    return await readFile(join(entry, MANIFEST), 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
    throw err;
  }
}

const SHA256 = /^[0-9a-f]{64}$/;

/** The manifest, or what is wrong with it. */
function parseManifest(text: string, key: string): Manifest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  const m = value as Partial<Manifest> | null;
  if (!m || typeof m !== 'object') return 'not an object';
  if (m.formatVersion !== 1) return `unknown formatVersion ${JSON.stringify(m.formatVersion)}`;
  if (m.key !== key) return `key ${String(m.key)} ≠ ${key}`;
  if (!Array.isArray(m.files)) return 'no files list';
  for (const f of m.files as unknown[]) {
    const file = f as Partial<ManifestFile> | null;
    if (!file || typeof file.path !== 'string' || typeof file.size !== 'number' || typeof file.sha256 !== 'string') return 'malformed file record';
    // Manifests also arrive from the remote tier: a path must name a file inside the entry on every platform.
    if (plainPathProblem(file.path) !== undefined) return `file path ${JSON.stringify(file.path)} is not a plain relative path inside the entry`;
    if (!SHA256.test(file.sha256) || !Number.isSafeInteger(file.size) || file.size < 0) return `file record of ${JSON.stringify(file.path)}: bad size or sha256`;
  }
  // A name cannot be both a file and a folder (`x` and `x/inner`), nor listed twice: no store could hold that.
  const paths = new Set((m.files as ManifestFile[]).map((f) => f.path));
  if (paths.size !== m.files.length) return 'a file path is listed twice';
  for (const path of paths) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = parts.slice(0, i).join('/');
      if (paths.has(folder)) return `${JSON.stringify(folder)} is listed both as a file and as the folder of ${JSON.stringify(path)}`;
    }
  }
  if (typeof m.stage !== 'string' || typeof m.uses !== 'string' || typeof m.createdAt !== 'string') return 'missing stage, uses or createdAt';
  return m as Manifest;
}
