// Persistent cache of file hashes keyed by absolute path and validated by (size, mtimeMs, ctimeMs, ino): a file
// whose stat is unchanged is not read again. ctime is there for the same reason git compares it: `touch -r` or
// `utimes` can set an edited file's mtime back, but any change to a file moves its ctime, which nobody can set. This is what lets `pipe run` re-check a 300 MB input CSV and every
// cached entry in milliseconds.
//
// Stored as <store>/stat-cache.json: { "version": 1, "files": { "<abs path>": {size, mtimeMs, ctimeMs, ino, sha256} } }.
// Absolute paths make it machine specific, which is fine: it only ever saves work, and a copied store whose
// paths no longer match simply re-hashes once.
//
// Racy files: a file modified within RACY_MS before it was hashed could change again without its mtime
// changing (coarse timestamps), so such hashes are used but not remembered, unless the caller knows the file
// is final (entries being committed).
//
// Concurrent processes: each keeps its own updates and, on save, merges them into the file currently on disk
// under a lock, then replaces it atomically; nobody's records are lost, and a wrong record is impossible
// because every record is re-validated against the file's stat before use.
import { readFile, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { sep } from 'node:path';
import { isErrno, READ_ONLY_CODES, writeFileAtomic } from './fs-utils.js';
import { sha256File } from './hash.js';
import { withFileLock } from './lock.js';

export interface StatCacheRecord {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  sha256: string;
}

interface StatCacheFile {
  version: 1;
  files: Record<string, StatCacheRecord>;
}

const RACY_MS = 2000;
const LOCK_NAME = 'stat-cache';

export interface HashFileOptions {
  /** The file will not change any more (just written by a finished stage): remember it even if recent. */
  final?: boolean;
  fsync?: boolean;
  /** Read the file even if the cache has a matching record. */
  ignoreCache?: boolean;
  /** Set false for files about to move (their path is not worth remembering). */
  remember?: boolean;
}

/** Thrown for a path that is not a regular file; `code` is ENOTREG so callers can tell it from I/O errors. */
export class NotRegularFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(
    readonly path: string,
    st: Stats,
  ) {
    super(st.isDirectory() ? 'it is a folder, not a file' : `it is ${specialKind(st)}, not a regular file or folder`);
  }
}

function specialKind(st: Stats): string {
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  return 'a special file';
}

export class StatCache {
  private records?: Map<string, StatCacheRecord>;
  private readonly updates = new Map<string, StatCacheRecord>();
  private readonly forgottenPrefixes: string[] = [];
  private readonly forgottenPaths = new Set<string>();
  /** Set once a save met a read-only store; later saves are skipped. */
  private readOnly = false;

  constructor(
    private readonly file: string,
    private readonly lockDir: string,
    private readonly tmpDir: string,
  ) {}

  /** The file read once, however many lookups wait for it (hashing runs several files at once). */
  private loading?: Promise<Map<string, StatCacheRecord>>;

  private async load(): Promise<Map<string, StatCacheRecord>> {
    if (this.records) return this.records;
    this.loading ??= readCacheFile(this.file).then((records) => {
      for (const [path, record] of this.updates) records.set(path, record);
      this.records ??= records;
      return this.records;
    });
    return this.loading;
  }

  /** The cached hash of `path` if its current stat matches the record. */
  async lookup(path: string, st: Stats): Promise<string | undefined> {
    const record = (await this.load()).get(path);
    return record && matches(record, st) ? record.sha256 : undefined;
  }

  remember(path: string, st: Stats, sha256: string): void {
    const record = { size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, sha256 };
    this.records?.set(path, record);
    this.updates.set(path, record);
  }

  /** Drop records under a removed directory (hygiene only: stale records never match anyway). */
  forgetUnder(dir: string): void {
    const prefix = dir.endsWith(sep) ? dir : dir + sep;
    this.forgottenPrefixes.push(prefix);
    for (const map of [this.records, this.updates]) {
      for (const path of map?.keys() ?? []) if (path.startsWith(prefix)) map!.delete(path);
    }
  }

  /** Hash a file, using and updating the cache; `st` is its stat if the caller already has it. */
  async hash(path: string, options: HashFileOptions = {}, st?: Stats): Promise<{ sha256: string; size: number; stat: Stats }> {
    let before = st ?? (await stat(path));
    // A device, FIFO or socket never ends (/dev/zero) or blocks (a FIFO): refuse it instead of reading forever.
    if (!before.isFile()) throw new NotRegularFileError(path, before);
    const cached = options.ignoreCache || options.fsync ? undefined : await this.lookup(path, before);
    if (cached) return { sha256: cached, size: before.size, stat: before };
    for (let attempt = 0; ; attempt++) {
      const startedAt = Date.now();
      const { sha256, size } = await sha256File(path, { fsync: options.fsync });
      const after = await stat(path);
      const stable = after.size === size && sameStat(before, after);
      if (stable || attempt >= 2) {
        if (stable && options.remember !== false && (options.final || startedAt - after.mtimeMs > RACY_MS)) this.remember(path, after, sha256);
        return { sha256, size, stat: after };
      }
      before = after; // modified while we read it: read again
    }
  }

  /** Merge this process's updates into the file on disk. Cheap when nothing changed. */
  async save(): Promise<void> {
    if (this.readOnly) return;
    if (this.updates.size === 0 && this.forgottenPrefixes.length === 0 && this.forgottenPaths.size === 0) return;
    // Take what is pending now; updates made while we save (concurrent lookups) wait for the next save.
    const updates = new Map(this.updates);
    const prefixes = this.forgottenPrefixes.splice(0);
    const paths = new Set(this.forgottenPaths);
    this.updates.clear();
    this.forgottenPaths.clear();
    try {
      await withFileLock(this.lockDir, LOCK_NAME, { command: 'stat cache save' }, async () => {
        const merged = await readCacheFile(this.file);
        for (const prefix of prefixes) {
          for (const path of merged.keys()) if (path.startsWith(prefix)) merged.delete(path);
        }
        for (const path of paths) merged.delete(path);
        for (const [path, record] of updates) merged.set(path, record);
        const content: StatCacheFile = { version: 1, files: Object.fromEntries(merged) };
        await writeFileAtomic(this.file, JSON.stringify(content), this.tmpDir);
        for (const [path, record] of this.updates) merged.set(path, record);
        this.records = merged;
      });
    } catch (err) {
      // A read-only store cannot keep hashes: they are only a cache, so keep them in memory and go on.
      if (isErrno(err, ...READ_ONLY_CODES)) {
        this.readOnly = true;
        return;
      }
      // Keep them for the next attempt (newer records of the same path win).
      for (const [path, record] of updates) if (!this.updates.has(path)) this.updates.set(path, record);
      this.forgottenPrefixes.push(...prefixes);
      for (const path of paths) this.forgottenPaths.add(path);
      throw err;
    }
  }

  /** Drop records of files that no longer exist (run by gc). */
  async prune(): Promise<number> {
    const records = await this.load();
    let dropped = 0;
    await Promise.all(
      [...records.keys()].map(async (path) => {
        try {
          await stat(path);
        } catch (err) {
          if (!isErrno(err, 'ENOENT', 'ENOTDIR')) return;
          this.forgottenPaths.add(path);
          records.delete(path);
          dropped++;
        }
      }),
    );
    return dropped;
  }
}

/** A record written before ctime was kept has none, so it never matches: such files are hashed once more. */
function matches(record: StatCacheRecord, st: Stats): boolean {
  return sameStat(record, st);
}

function sameStat(a: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino'>, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino;
}

async function readCacheFile(file: string): Promise<Map<string, StatCacheRecord>> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<StatCacheFile>;
    if (parsed.version !== 1 || typeof parsed.files !== 'object' || parsed.files === null) return new Map();
    return new Map(Object.entries(parsed.files));
  } catch (err) {
    // Missing or unreadable (e.g. a truncated copy): start empty, it is only a cache.
    if (isErrno(err, 'ENOENT') || err instanceof SyntaxError) return new Map();
    throw err;
  }
}
