// The remote tier of the artifact cache, whatever holds its objects: S3-compatible object storage (s3.ts) or a
// shared folder (folder.ts). Both speak this protocol through a small blob store interface; everything that
// makes the remote safe to share lives here, once.
//
// Layout under the store's root (s3://<bucket>/<prefix>/, or the folder of file:///<path>):
//   pipe-cache-v1/blobs/<sha256>        file contents, named by their SHA-256 (shared by every entry that has them)
//   pipe-cache-v1/entries/<key>.json    { manifest: "<the entry's manifest.json text>", hmac?: "<hex>" }
//   pipe-cache-v1/runs/<run-id>.json    { record: "<a run's outline: pipeline, variant, status, stage keys>", hmac?: "<hex>" },
//                                       written by each run with writes on, so that `pipe cache gc --remote` keeps
//                                       what the latest runs used on any machine, with or without their inputs
//
// Safety:
// - A push uploads the blobs first and the entry object last, so a reader never finds an entry whose files are
//   missing, whatever moment a push dies at. Blobs are content addressed and objects are written whole (each
//   transport guarantees a reader sees all of an object or none of it), so two machines pushing one key at
//   once cannot mix their entries. A push writes every blob it names, even one already there (left by an entry
//   gc removed), so that each is younger than the push: gc never deletes anything younger than its grace
//   window, and so never a blob a push in progress is about to name.
// - A fetched entry is trusted for nothing: its manifest is parsed like a local one (paths must stay inside the
//   entry, hashes must be SHA-256), every blob is checked against the manifest's size and SHA-256 as the local
//   store commits it, and only then is the entry renamed into the local store.
// - With a signing key (PIPE_CACHE_SIGNING_KEY) entries carry an HMAC-SHA256 of their manifest text; an entry
//   without one, or with a wrong one, is rejected (and so is every blob it names, through the hashes).
// - An entry whose manifest is not what the planned stage would store (another stage type, other outputs) is
//   rejected before its files are fetched.
// - Every request runs under a deadline, and every transfer under one that grows with its size (the request
//   deadline plus the size at the slowest accepted rate), so a server (or a hung network mount) that trickles
//   bytes cannot hold a run; any fault throws, and the artifact cache then stops using the remote. The run's
//   signal cancels transfers.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { expectationProblem, type RemoteFetch, type RemoteFetchOptions, type RemoteTier } from '../artifact-cache.js';
import { hmacMatches, hmacSha256 } from '../hash.js';
import { CorruptEntryError, manifestFromText, type LocalStore, type Manifest } from '../local-store.js';
import { parseRunOutline, type RunOutline } from '../../runs/read.js';

/** One object of a blob store. */
export interface BlobInfo {
  /** Relative to the store's root, '/'-separated: pipe-cache-v1/blobs/<sha256>. */
  key: string;
  modified: Date;
  size: number;
}

/** What a stream body is: a way to open it (a transport may need to send it twice) and its size in bytes. */
export interface BlobSource {
  open(): Readable;
  size: number;
}

/**
 * Where the remote keeps its objects, by key (see BlobInfo). Each call gives up when `signal` aborts; deadlines
 * are the protocol's (the signal aborts when one passes). Faults throw.
 */
export interface BlobStore {
  /**
   * Load what the transport needs before its first request (S3: the SDK). Awaited outside every deadline: loading
   * a large library on a busy machine is not the server being slow.
   */
  open?(): Promise<void>;
  /** The object's body and size (when known), or undefined when there is no such object. */
  get(key: string, signal: AbortSignal): Promise<{ body: Readable; size?: number } | undefined>;
  /** Write an object whole: a reader sees the old object (or none) or all of the new one, never part of it. */
  put(key: string, body: string | BlobSource, signal: AbortSignal): Promise<void>;
  /** Whether the object is there. */
  head(key: string, signal: AbortSignal): Promise<boolean>;
  /** One page of the objects whose keys start with `prefix` (it ends with '/'), from `page` (a previous `next`). */
  list(prefix: string, signal: AbortSignal, page?: string): Promise<{ objects: BlobInfo[]; next?: string }>;
  /** Remove an object; one already gone is no fault. */
  delete(key: string, signal: AbortSignal): Promise<void>;
}

export interface RemoteSettings {
  /** s3://bucket/prefix or file:///path */
  url: string;
  /** http(s)://host:port of an S3-compatible server; path-style addressing is used with it. */
  endpoint?: string;
  writable: boolean;
  /** Deadline of each request, in milliseconds; a transfer of n bytes gets this plus n / minRate. */
  timeoutMs: number;
  /** The slowest transfer accepted, in bytes per second (default DEFAULT_MIN_RATE). */
  minRate?: number;
  /** HMAC key: sign pushed entries, accept only entries signed with it. */
  signingKey?: string;
}

const LAYOUT = 'pipe-cache-v1';
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const KEY = /^[0-9a-f]{64}$/;
/** Run ids as newRunId() makes them (src/runs/write.ts); anything else is no run object of ours. */
const RUN_ID = /^[0-9A-Za-z-]{1,100}$/;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Signed before a run record's text, so that no signed manifest can pass for a run record, or the reverse. */
const RUN_SIGNED_AS = 'pipe-run-record\n';
const READ_ONLY = 'the remote cache is read-only here (set PIPE_REMOTE_CACHE_WRITE=1 to push)';

/** 256 KiB/s: a 100 MB model may take 400 s on top of the request deadline. */
export const DEFAULT_MIN_RATE = 256 * 1024;

interface CallOptions {
  /** The deadline (default: the request deadline). */
  timeoutMs?: number;
  /** What missing it fails with (default: no answer within the request deadline). */
  late?: () => string;
  signal?: AbortSignal;
}

interface EntryObject {
  manifest: string;
  hmac?: string;
}

interface RunObject {
  record: string;
  hmac?: string;
}

export interface RemoteRunInfo {
  id: string;
  pushedAt: string;
  outline?: RunOutline;
  /** Why the run object cannot be used, when it cannot. */
  problem?: string;
}

export interface RemoteEntryInfo {
  key: string;
  stage: string;
  uses: string;
  bytes: number;
  pushedAt: string;
  /** The pipeline (by name) whose run built it, as its manifest says. */
  pipeline?: string;
  /** Why the entry cannot be used, when it cannot. */
  problem?: string;
}

export class RemoteCacheTier implements RemoteTier {
  readonly location: string;
  readonly writable: boolean;

  constructor(
    private readonly blobs: BlobStore,
    private readonly settings: Pick<RemoteSettings, 'url' | 'writable' | 'timeoutMs' | 'minRate' | 'signingKey'>,
  ) {
    this.location = settings.url;
    this.writable = settings.writable;
  }

  private blobKey(sha256: string): string {
    return `${LAYOUT}/blobs/${sha256}`;
  }

  private entryKey(key: string): string {
    if (!KEY.test(key)) throw new Error(`invalid cache key '${key}'`);
    return `${LAYOUT}/entries/${key}.json`;
  }

  private runKey(id: string): string {
    if (!RUN_ID.test(id)) throw new Error(`invalid run id '${id}'`);
    return `${LAYOUT}/runs/${id}.json`;
  }

  /** One call of the blob store, answered within `timeoutMs` (the request deadline by default) unless `signal` stops it first. */
  private async call<T>(work: (signal: AbortSignal) => Promise<T>, options: CallOptions = {}): Promise<T> {
    const ms = options.timeoutMs ?? this.settings.timeoutMs;
    const late = options.late ?? (() => `no answer within ${formatMs(ms)} (PIPE_REMOTE_CACHE_TIMEOUT)`);
    await (this.opened ??= this.blobs.open?.());
    return withDeadline(ms, late, options.signal, work);
  }

  private opened?: Promise<void>;

  /** The deadline of a transfer of `size` bytes: the request deadline plus the size at the slowest accepted rate. */
  private transferMs(size: number): number {
    return this.settings.timeoutMs + Math.ceil((size / (this.settings.minRate ?? DEFAULT_MIN_RATE)) * 1000);
  }

  /** What a transfer that missed its deadline fails with. */
  private tooSlow(what: string, size: number): () => string {
    const rate = this.settings.minRate ?? DEFAULT_MIN_RATE;
    return () => `${what} (${size} bytes) took longer than ${formatMs(this.transferMs(size))}, slower than ${rate} bytes/s (PIPE_REMOTE_CACHE_MIN_RATE)`;
  }

  private exists(objectKey: string, signal?: AbortSignal): Promise<boolean> {
    return this.call((s) => this.blobs.head(objectKey, s), { signal });
  }

  async has(key: string): Promise<boolean> {
    return this.exists(this.entryKey(key));
  }

  /**
   * A small JSON object holding a signed text under `field` (an entry's manifest, a run's outline), or undefined
   * when there is none. Its body is read under a deadline too: a server that trickles it cannot hold the run.
   */
  private async readSigned(objectKey: string, field: 'manifest' | 'record', what: string, signal?: AbortSignal): Promise<{ text: string; hmac?: string } | undefined> {
    const found = await this.call((s) => this.blobs.get(objectKey, s), { signal });
    if (!found) return undefined;
    const { body } = found;
    const size = found.size ?? MAX_MANIFEST_BYTES;
    if (size > MAX_MANIFEST_BYTES) {
      body.destroy();
      throw new CorruptEntryError(`${what} object is ${found.size} bytes (at most ${MAX_MANIFEST_BYTES})`);
    }
    const bytes = await withDeadline(this.transferMs(size), this.tooSlow(`reading ${what} ${objectKey.split('/').pop()!.slice(0, 12)}`, size), signal, (abort) => {
      abort.addEventListener('abort', () => body.destroy(new Error('aborted')), { once: true });
      return readAll(body, MAX_MANIFEST_BYTES, what);
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      throw new CorruptEntryError(`${what} object is not JSON`);
    }
    const object = parsed as Record<string, unknown> | null;
    if (!object || typeof object[field] !== 'string' || (object.hmac !== undefined && typeof object.hmac !== 'string')) {
      throw new CorruptEntryError(`${what} object has no ${field} text`);
    }
    return { text: object[field] as string, ...(object.hmac === undefined ? {} : { hmac: object.hmac as string }) };
  }

  /** The entry object's manifest text, or undefined when there is none. */
  private async readEntry(key: string, signal?: AbortSignal): Promise<EntryObject | undefined> {
    const found = await this.readSigned(this.entryKey(key), 'manifest', 'entry', signal);
    return found && { manifest: found.text, ...(found.hmac === undefined ? {} : { hmac: found.hmac }) };
  }

  /** Why a signed text is not to be trusted (PIPE_CACHE_SIGNING_KEY set, and no or a wrong signature), or undefined. */
  private signatureProblem(text: string, hmac: string | undefined): string | undefined {
    const secret = this.settings.signingKey;
    if (secret === undefined) return undefined;
    if (!hmac) return 'it is not signed (PIPE_CACHE_SIGNING_KEY is set)';
    if (!hmacMatches(secret, text, hmac)) return 'its signature does not match (PIPE_CACHE_SIGNING_KEY)';
    return undefined;
  }

  private signed(text: string): { hmac?: string } {
    return this.settings.signingKey !== undefined ? { hmac: hmacSha256(this.settings.signingKey, text) } : {};
  }

  /** The manifest of an entry object after the signature check; a string says why it is not usable. */
  private checkEntry(entry: EntryObject, key: string): Manifest | string {
    const problem = this.signatureProblem(entry.manifest, entry.hmac);
    if (problem) return problem;
    const manifest = manifestFromText(entry.manifest, key);
    return typeof manifest === 'string' ? `its manifest is invalid: ${manifest}` : manifest;
  }

  async fetchInto(key: string, local: LocalStore, options: RemoteFetchOptions = {}): Promise<RemoteFetch> {
    const { signal } = options;
    let entry: EntryObject | undefined;
    try {
      entry = await this.readEntry(key, signal);
    } catch (err) {
      if (err instanceof CorruptEntryError) return { status: 'rejected', reason: err.message };
      throw err;
    }
    if (!entry) return { status: 'absent' };
    const manifest = this.checkEntry(entry, key);
    if (typeof manifest === 'string') return { status: 'rejected', reason: manifest };
    const forged = options.expect && expectationProblem(manifest, options.expect);
    if (forged) return { status: 'rejected', reason: forged };
    try {
      await local.receive(manifest, async (outDir) => {
        for (const file of manifest.files) {
          const target = join(outDir, ...file.path.split('/'));
          await mkdir(dirname(target), { recursive: true });
          // One deadline for the whole transfer (answer and body); the stall timer in download() besides.
          await withDeadline(this.transferMs(file.size), this.tooSlow(`download of ${file.path}`, file.size), signal, async (abort) => {
            const found = await this.call((s) => this.blobs.get(this.blobKey(file.sha256), s), { signal: abort });
            if (!found) throw new CorruptEntryError(`${file.path}: its content is missing from the remote`);
            await this.download(found.body, target, file, abort);
          });
        }
      });
    } catch (err) {
      if (err instanceof CorruptEntryError) return { status: 'rejected', reason: `corrupt: ${err.message}` };
      throw err;
    }
    return { status: 'fetched' };
  }

  /**
   * Copy a body to a file. A body that stalls longer than the deadline fails the fetch; one longer than the
   * manifest says is cut off as corrupt (a hostile remote cannot fill the disk).
   */
  private async download(body: Readable, target: string, file: { path: string; size: number }, signal: AbortSignal): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    let bytes = 0;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => body.destroy(new Error(`download stalled for ${formatMs(this.settings.timeoutMs)} (PIPE_REMOTE_CACHE_TIMEOUT)`)), this.settings.timeoutMs);
    };
    arm();
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > file.size) body.destroy(new CorruptEntryError(`${file.path}: more than the ${file.size} bytes in the manifest`));
      else arm();
    });
    try {
      await pipeline(body, createWriteStream(target), { signal });
    } finally {
      clearTimeout(timer);
    }
  }

  async push(key: string, local: LocalStore, options: { replace?: boolean; signal?: AbortSignal } = {}): Promise<'pushed' | 'present'> {
    if (!this.writable) throw new Error(READ_ONLY);
    const { signal } = options;
    const found = await local.lookup(key);
    if (found.status !== 'hit') throw new Error(`no sound local entry ${key.slice(0, 12)} to push (${found.status})`);
    if (!options.replace && (await this.exists(this.entryKey(key), signal))) {
      // Someone pushed this key already. Keep theirs unless it is unusable to us (e.g. unsigned, and we sign).
      const theirs = await this.readEntry(key, signal).catch(() => undefined);
      if (theirs && typeof this.checkEntry(theirs, key) !== 'string') return 'present';
    }
    for (const file of found.manifest.files) {
      // Written even when there (see Safety above): its age then tells gc that a push is about to name it.
      const path = join(found.dir, ...file.path.split('/'));
      await this.call((s) => this.blobs.put(this.blobKey(file.sha256), { open: () => createReadStream(path), size: file.size }, s), {
        timeoutMs: this.transferMs(file.size),
        late: this.tooSlow(`upload of ${file.path}`, file.size),
        signal,
      });
    }
    // Last: the entry object that makes the blobs above an entry.
    const text = await readFile(join(found.dir, '..', 'manifest.json'), 'utf8');
    const entry: EntryObject = { manifest: text, ...this.signed(text) };
    await this.call((s) => this.blobs.put(this.entryKey(key), JSON.stringify(entry), s), { signal });
    return 'pushed';
  }

  /** Every object under `pipe-cache-v1/<kind>/`, each with its name (no .json) where that is one of ours. */
  private async listed(kind: 'entries' | 'runs' | 'blobs', name: RegExp): Promise<{ name: string; object: BlobInfo }[]> {
    const prefix = `${LAYOUT}/${kind}/`;
    const out: { name: string; object: BlobInfo }[] = [];
    let page: string | undefined;
    do {
      const listed = await this.call((s) => this.blobs.list(prefix, s, page));
      for (const object of listed.objects) {
        const id = object.key.slice(prefix.length).replace(/\.json$/, '');
        if (object.key.startsWith(prefix) && name.test(id)) out.push({ name: id, object });
      }
      page = listed.next;
    } while (page);
    return out;
  }

  /**
   * Read every signed object of a kind that lists (entries, runs): `read` makes its info, or undefined to skip
   * it; `unusable` the info of one that cannot be read, saying why.
   */
  private async readListed<T>(
    kind: 'entries' | 'runs',
    name: RegExp,
    read: (name: string, object: BlobInfo, pushedAt: string) => Promise<T | undefined>,
    unusable: (name: string, object: BlobInfo, pushedAt: string, problem: string) => T,
  ): Promise<T[]> {
    const out: T[] = [];
    for (const { name: id, object } of await this.listed(kind, name)) {
      const pushedAt = object.modified.toISOString();
      try {
        const info = await read(id, object, pushedAt);
        if (info !== undefined) out.push(info);
      } catch (err) {
        if (!(err instanceof CorruptEntryError)) throw err;
        out.push(unusable(id, object, pushedAt, err.message));
      }
    }
    return out;
  }

  /** Every entry object: key, what it holds, when it was pushed. */
  entries(): Promise<RemoteEntryInfo[]> {
    const unusable = (key: string, object: BlobInfo, pushedAt: string, problem: string): RemoteEntryInfo => ({ key, stage: '', uses: '', bytes: object.size, pushedAt, problem });
    return this.readListed('entries', KEY, async (key, object, pushedAt) => {
      const entry = await this.readEntry(key);
      if (!entry) return undefined;
      const manifest = this.checkEntry(entry, key);
      if (typeof manifest === 'string') return unusable(key, object, pushedAt, manifest);
      const pipeline = typeof manifest.meta?.pipeline === 'string' ? { pipeline: manifest.meta.pipeline } : {};
      return { key, stage: manifest.stage, uses: manifest.uses, bytes: manifest.files.reduce((n, f) => n + f.size, 0), pushedAt, ...pipeline };
    }, unusable);
  }

  /** Record which entries a run used (its outline), for gc --remote. */
  async pushRun(outline: RunOutline): Promise<void> {
    if (!this.writable) throw new Error(READ_ONLY);
    const text = JSON.stringify(outline);
    const object: RunObject = { record: text, ...this.signed(RUN_SIGNED_AS + text) };
    await this.call((s) => this.blobs.put(this.runKey(outline.id), JSON.stringify(object), s));
  }

  /** Every run object: its outline when it can be trusted and read, else why not. */
  runs(): Promise<RemoteRunInfo[]> {
    return this.readListed('runs', RUN_ID, async (id, _object, pushedAt): Promise<RemoteRunInfo | undefined> => {
      const found = await this.readSigned(this.runKey(id), 'record', 'run');
      if (!found) return undefined;
      const problem = this.signatureProblem(RUN_SIGNED_AS + found.text, found.hmac);
      if (problem) return { id, pushedAt, problem };
      let outline: RunOutline | string;
      try {
        outline = parseRunOutline(JSON.parse(found.text));
      } catch {
        outline = 'not JSON';
      }
      if (typeof outline === 'string' || outline.id !== id) return { id, pushedAt, problem: `its record is invalid: ${typeof outline === 'string' ? outline : `id ${outline.id}`}` };
      return { id, pushedAt, outline };
    }, (id, _object, pushedAt, problem) => ({ id, pushedAt, problem }));
  }

  /**
   * Delete entries pushed more than `maxAgeDays` ago that are not in `keep`, run objects as old that are not in
   * `keepRuns`, then blobs that no remaining entry names. Nothing younger than `graceDays` is deleted: a push in
   * progress writes its blobs (and a run, its entries) before the object that names them.
   */
  async gc(options: { maxAgeDays: number; graceDays: number; keep: Set<string>; keepRuns: Set<string>; dryRun?: boolean }): Promise<{
    removed: RemoteEntryInfo[];
    runs: number;
    blobs: number;
    blobBytes: number;
  }> {
    const now = Date.now();
    const graceCutoff = now - options.graceDays * DAY_MS;
    const cutoff = Math.min(now - options.maxAgeDays * DAY_MS, graceCutoff);
    const remove = (objectKey: string) => (options.dryRun ? Promise.resolve() : this.call((s) => this.blobs.delete(objectKey, s)));
    const removed: RemoteEntryInfo[] = [];
    const referenced = new Set<string>();
    for (const entry of await this.entries()) {
      if (!options.keep.has(entry.key) && Date.parse(entry.pushedAt) < cutoff) {
        removed.push(entry);
        await remove(this.entryKey(entry.key));
        continue;
      }
      const kept = await this.readEntry(entry.key).catch(() => undefined);
      const manifest = kept && manifestFromText(kept.manifest, entry.key);
      if (manifest && typeof manifest !== 'string') for (const f of manifest.files) referenced.add(f.sha256);
    }
    let runs = 0;
    for (const { name: id, object } of await this.listed('runs', RUN_ID)) {
      if (options.keepRuns.has(id) || object.modified.getTime() >= cutoff) continue;
      runs++;
      await remove(object.key);
    }
    let blobs = 0;
    let blobBytes = 0;
    // Every name: a blob is any object there that no entry names (a transport's leftover temp file too).
    for (const { name: sha, object } of await this.listed('blobs', /^/)) {
      if (referenced.has(sha) || object.modified.getTime() >= graceCutoff) continue;
      blobs++;
      blobBytes += object.size;
      await remove(object.key);
    }
    return { removed, runs, blobs, blobBytes };
  }
}

/**
 * Run `work` with a signal that aborts after `ms` or when `signal` does; it then fails with `late()` as its
 * message, or as interrupted, at once: a stream destroyed mid-way may never settle the promise reading it.
 */
async function withDeadline<T>(ms: number, late: () => string, signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  if (signal?.aborted) throw new Error('interrupted');
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), ms);
  const either = signal ? AbortSignal.any([deadline.signal, signal]) : deadline.signal;
  const stopped = new Promise<never>((_, reject) => either.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
  try {
    const working = work(either);
    // Whichever loses the race below settles unobserved.
    working.catch(() => undefined);
    stopped.catch(() => undefined);
    return await Promise.race([working, stopped]);
  } catch (err) {
    if (signal?.aborted) throw new Error('interrupted', { cause: err });
    if (deadline.signal.aborted) throw new Error(late(), { cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** A small body, whole; one longer than `max` bytes is corrupt. */
async function readAll(body: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of body as AsyncIterable<Buffer | string>) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    bytes += buffer.length;
    if (bytes > max) {
      body.destroy();
      throw new CorruptEntryError(`${what} object is more than ${max} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
