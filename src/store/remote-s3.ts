// The remote tier of the artifact cache on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, R2, Garage).
//
// Layout under s3://<bucket>/<prefix>/:
//   pipe-cache-v1/blobs/<sha256>        file contents, named by their SHA-256 (shared by every entry that has them)
//   pipe-cache-v1/entries/<key>.json    { manifest: "<the entry's manifest.json text>", hmac?: "<hex>" }
//   pipe-cache-v1/runs/<run-id>.json    { record: "<a run's outline: pipeline, variant, status, stage keys>", hmac?: "<hex>" },
//                                       written by each run with writes on, so that `pipe cache gc --remote` keeps
//                                       what the latest runs used on any machine, with or without their inputs
//
// Safety:
// - A push uploads the blobs first and the entry object last, so a reader never finds an entry whose files are
//   missing, whatever moment a push dies at. Blobs are content addressed and entry objects are written whole,
//   so two machines pushing one key at once cannot mix their entries. A push writes every blob it names, even
//   one already there (left by an entry gc removed), so that each is younger than the push: gc never deletes
//   anything younger than its grace window, and so never a blob a push in progress is about to name.
// - A fetched entry is trusted for nothing: its manifest is parsed like a local one (paths must stay inside the
//   entry, hashes must be SHA-256), every blob is checked against the manifest's size and SHA-256 as the local
//   store commits it, and only then is the entry renamed into the local store.
// - With a signing key (PIPE_CACHE_SIGNING_KEY) entries carry an HMAC-SHA256 of their manifest text; an entry
//   without one, or with a wrong one, is rejected (and so is every blob it names, through the hashes).
// - An entry whose manifest is not what the planned stage would store (another stage type, other outputs) is
//   rejected before its files are fetched.
// - Every request runs under a deadline, and every transfer under one that grows with its size (the request
//   deadline plus the size at the slowest accepted rate), so a server that trickles bytes cannot hold a run;
//   any fault throws, and the artifact cache then stops using the remote. The run's signal cancels transfers.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { expectationProblem, type RemoteFetch, type RemoteFetchOptions, type RemoteTier } from './artifact-cache.js';
import { hmacMatches, hmacSha256 } from './hash.js';
import { CorruptEntryError, manifestFromText, type LocalStore, type Manifest } from './local-store.js';
import { parseRunOutline, type RunOutline } from '../runs/read.js';

export interface RemoteSettings {
  /** s3://bucket/prefix */
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

/** The pieces of an s3:// URL, or what is wrong with it. */
export function parseS3Url(url: string): { bucket: string; prefix: string } | string {
  const match = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!match) return `'${url}' is not an s3:// URL (expected s3://bucket or s3://bucket/prefix, bucket in lowercase letters, digits, '.' and '-')`;
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  if (prefix.split('/').some((p) => p === '.' || p === '..') || /[\\\x00-\x1f]/.test(prefix)) return `'${url}': the prefix must be a plain path`;
  return { bucket: match[1], prefix };
}

/** What a request sent on a connection the server had closed fails with. */
const STALE_CONNECTION = /ECONNRESET|EPIPE|socket hang up/;
const LAYOUT = 'pipe-cache-v1';
type CommandName = 'HeadObjectCommand' | 'GetObjectCommand' | 'PutObjectCommand' | 'DeleteObjectCommand' | 'ListObjectsV2Command';
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const KEY = /^[0-9a-f]{64}$/;
/** Run ids as newRunId() makes them (src/runs/write.ts); anything else is no run object of ours. */
const RUN_ID = /^[0-9A-Za-z-]{1,100}$/;
const DAY_MS = 24 * 60 * 60 * 1000;
/** Signed before a run record's text, so that no signed manifest can pass for a run record, or the reverse. */
const RUN_SIGNED_AS = 'pipe-run-record\n';

/** 256 KiB/s: a 100 MB model may take 400 s on top of the request deadline. */
export const DEFAULT_MIN_RATE = 256 * 1024;

interface SendOptions {
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

export class S3RemoteTier implements RemoteTier {
  readonly location: string;
  readonly writable: boolean;
  private readonly bucket: string;
  private readonly prefix: string;

  private sdk?: Promise<{ s3: typeof import('@aws-sdk/client-s3'); client: S3Client }>;

  constructor(private readonly settings: RemoteSettings) {
    const parsed = parseS3Url(settings.url);
    if (typeof parsed === 'string') throw new Error(parsed);
    this.bucket = parsed.bucket;
    this.prefix = parsed.prefix ? `${parsed.prefix}/${LAYOUT}` : LAYOUT;
    this.location = settings.url;
    this.writable = settings.writable;
  }

  /** The SDK loads on the first request (it is large): a run whose stages are all cached here never loads it. */
  private loadSdk(): Promise<{ s3: typeof import('@aws-sdk/client-s3'); client: S3Client }> {
    this.sdk ??= (async () => {
      // The SDK warns on every Node version its next major release will drop; Node 20 is supported by this one.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      const s3 = await import('@aws-sdk/client-s3');
      const client = new s3.S3Client({
        region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        ...(this.settings.endpoint ? { endpoint: this.settings.endpoint, forcePathStyle: true } : {}),
        // Since 3.729 the client sends CRC32 checksums by default, which S3-compatible servers may reject.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        // One attempt: a fault switches the remote off for the run, so retries would only multiply the wait.
        // Each request's deadline is ours (send() below), so the handler's own timeouts stay off.
        maxAttempts: 1,
      });
      return { s3, client };
    })();
    return this.sdk;
  }

  private blobKey(sha256: string): string {
    return `${this.prefix}/blobs/${sha256}`;
  }

  private entryKey(key: string): string {
    if (!KEY.test(key)) throw new Error(`invalid cache key '${key}'`);
    return `${this.prefix}/entries/${key}.json`;
  }

  private runKey(id: string): string {
    if (!RUN_ID.test(id)) throw new Error(`invalid run id '${id}'`);
    return `${this.prefix}/runs/${id}.json`;
  }

  /**
   * One request under the deadline. A connection the server closed while it sat idle in the pool fails the next
   * request sent on it at once ("socket hang up"): that request is sent again, once, on a new connection. A
   * request with a stream body is given as a function that makes it, so that the second one has a fresh stream.
   */
  private async send<T>(
    name: CommandName,
    input: Record<string, unknown> | (() => Record<string, unknown>),
    options: SendOptions = {},
  ): Promise<T> {
    const make = typeof input === 'function' ? input : () => input;
    try {
      return await this.sendOnce<T>(name, make(), options);
    } catch (err) {
      const stale = STALE_CONNECTION.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`);
      if (!stale || options.signal?.aborted || (typeof input !== 'function' && input.Body instanceof Readable)) throw err;
      return this.sendOnce<T>(name, make(), options);
    }
  }

  /** One request, answered within `timeoutMs` (the request deadline by default) unless `signal` stops it first. */
  private async sendOnce<T>(name: CommandName, input: Record<string, unknown>, options: SendOptions): Promise<T> {
    const { s3, client } = await this.loadSdk();
    const command = new (s3[name] as unknown as new (input: Record<string, unknown>) => object)(input);
    const ms = options.timeoutMs ?? this.settings.timeoutMs;
    const late = options.late ?? (() => `no answer within ${formatMs(ms)} (PIPE_REMOTE_CACHE_TIMEOUT)`);
    return this.withDeadline(ms, late, options.signal, async (abortSignal) => {
      return (await client.send(command as never, { abortSignal })) as T;
    });
  }

  /**
   * Run `work` with a signal that aborts after `ms` or when `signal` does; it then fails with `late()` as its
   * message, or as interrupted, at once: a stream destroyed mid-way may never settle the promise reading it.
   */
  private async withDeadline<T>(ms: number, late: () => string, signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
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

  /** The deadline of a transfer of `size` bytes: the request deadline plus the size at the slowest accepted rate. */
  private transferMs(size: number): number {
    return this.settings.timeoutMs + Math.ceil((size / (this.settings.minRate ?? DEFAULT_MIN_RATE)) * 1000);
  }

  /** What a transfer that missed its deadline fails with. */
  private tooSlow(what: string, size: number): () => string {
    const rate = this.settings.minRate ?? DEFAULT_MIN_RATE;
    return () => `${what} (${size} bytes) took longer than ${formatMs(this.transferMs(size))}, slower than ${rate} bytes/s (PIPE_REMOTE_CACHE_MIN_RATE)`;
  }

  private async exists(objectKey: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.send('HeadObjectCommand', { Bucket: this.bucket, Key: objectKey }, { signal });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  async has(key: string): Promise<boolean> {
    return this.exists(this.entryKey(key));
  }

  /**
   * A small JSON object holding a signed text under `field` (an entry's manifest, a run's outline), or undefined
   * when there is none. Its body is read under a deadline too: a server that trickles it cannot hold the run.
   */
  private async readSigned(objectKey: string, field: 'manifest' | 'record', what: string, signal?: AbortSignal): Promise<{ text: string; hmac?: string } | undefined> {
    let body: Uint8Array;
    try {
      const out = await this.send<{ Body?: Readable & { transformToByteArray(): Promise<Uint8Array> }; ContentLength?: number }>(
        'GetObjectCommand', { Bucket: this.bucket, Key: objectKey }, { signal },
      );
      const size = out.ContentLength ?? MAX_MANIFEST_BYTES;
      if (size > MAX_MANIFEST_BYTES) throw new CorruptEntryError(`${what} object is ${out.ContentLength} bytes (at most ${MAX_MANIFEST_BYTES})`);
      const objectBody = out.Body;
      body = objectBody
        ? await this.withDeadline(this.transferMs(size), this.tooSlow(`reading ${what} ${objectKey.split('/').pop()!.slice(0, 12)}`, size), signal, (abort) => {
            abort.addEventListener('abort', () => objectBody.destroy(new Error('aborted')), { once: true });
            return objectBody.transformToByteArray();
          })
        : new Uint8Array();
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body).toString('utf8'));
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
          await this.withDeadline(this.transferMs(file.size), this.tooSlow(`download of ${file.path}`, file.size), signal, async (abort) => {
            const out = await this.send<{ Body?: Readable }>('GetObjectCommand', { Bucket: this.bucket, Key: this.blobKey(file.sha256) }, { signal: abort }).catch(
              (err: unknown) => {
                throw isNotFound(err) ? new CorruptEntryError(`${file.path}: its content is missing from the remote`) : err;
              },
            );
            if (!out.Body) throw new CorruptEntryError(`${file.path}: empty answer`);
            await this.download(out.Body, target, file, abort);
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
   * Copy a response body to a file. A body that stalls longer than the deadline fails the fetch; one longer
   * than the manifest says is cut off as corrupt (a hostile server cannot fill the disk).
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
    if (!this.writable) throw new Error('the remote cache is read-only here (set PIPE_REMOTE_CACHE_WRITE=1 to push)');
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
      await this.send(
        'PutObjectCommand',
        () => ({
          Bucket: this.bucket,
          Key: this.blobKey(file.sha256),
          Body: createReadStream(join(found.dir, ...file.path.split('/'))),
          ContentLength: file.size,
          ContentType: 'application/octet-stream',
        }),
        { timeoutMs: this.transferMs(file.size), late: this.tooSlow(`upload of ${file.path}`, file.size), signal },
      );
    }
    // Last: the entry object that makes the blobs above an entry.
    const text = await readFile(join(found.dir, '..', 'manifest.json'), 'utf8');
    const entry: EntryObject = { manifest: text, ...this.signed(text) };
    await this.send(
      'PutObjectCommand', { Bucket: this.bucket, Key: this.entryKey(key), Body: JSON.stringify(entry), ContentType: 'application/json' }, { signal },
    );
    return 'pushed';
  }

  /** Every entry object: key, what it holds, when it was pushed. */
  async entries(): Promise<RemoteEntryInfo[]> {
    const out: RemoteEntryInfo[] = [];
    for (const object of await this.list(`${this.prefix}/entries/`)) {
      const key = object.Key.slice(`${this.prefix}/entries/`.length).replace(/\.json$/, '');
      if (!KEY.test(key)) continue;
      const pushedAt = object.LastModified.toISOString();
      try {
        const entry = await this.readEntry(key);
        if (!entry) continue;
        const manifest = this.checkEntry(entry, key);
        if (typeof manifest === 'string') out.push({ key, stage: '', uses: '', bytes: object.Size, pushedAt, problem: manifest });
        else {
          const pipeline = typeof manifest.meta?.pipeline === 'string' ? { pipeline: manifest.meta.pipeline } : {};
          out.push({ key, stage: manifest.stage, uses: manifest.uses, bytes: manifest.files.reduce((n, f) => n + f.size, 0), pushedAt, ...pipeline });
        }
      } catch (err) {
        if (!(err instanceof CorruptEntryError)) throw err;
        out.push({ key, stage: '', uses: '', bytes: object.Size, pushedAt, problem: err.message });
      }
    }
    return out;
  }

  /** Record which entries a run used (its outline), for gc --remote. */
  async pushRun(outline: RunOutline): Promise<void> {
    if (!this.writable) throw new Error('the remote cache is read-only here (set PIPE_REMOTE_CACHE_WRITE=1 to push)');
    const text = JSON.stringify(outline);
    const object: RunObject = { record: text, ...this.signed(RUN_SIGNED_AS + text) };
    await this.send('PutObjectCommand', { Bucket: this.bucket, Key: this.runKey(outline.id), Body: JSON.stringify(object), ContentType: 'application/json' });
  }

  /** Every run object: its outline when it can be trusted and read, else why not. */
  async runs(): Promise<RemoteRunInfo[]> {
    const out: RemoteRunInfo[] = [];
    for (const object of await this.list(`${this.prefix}/runs/`)) {
      const id = object.Key.slice(`${this.prefix}/runs/`.length).replace(/\.json$/, '');
      if (!RUN_ID.test(id)) continue;
      const pushedAt = object.LastModified.toISOString();
      try {
        const found = await this.readSigned(this.runKey(id), 'record', 'run');
        if (!found) continue;
        const problem = this.signatureProblem(RUN_SIGNED_AS + found.text, found.hmac);
        if (problem) {
          out.push({ id, pushedAt, problem });
          continue;
        }
        let outline: RunOutline | string;
        try {
          outline = parseRunOutline(JSON.parse(found.text));
        } catch {
          outline = 'not JSON';
        }
        if (typeof outline === 'string' || outline.id !== id) out.push({ id, pushedAt, problem: `its record is invalid: ${typeof outline === 'string' ? outline : `id ${outline.id}`}` });
        else out.push({ id, pushedAt, outline });
      } catch (err) {
        if (!(err instanceof CorruptEntryError)) throw err;
        out.push({ id, pushedAt, problem: err.message });
      }
    }
    return out;
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
    const removed: RemoteEntryInfo[] = [];
    const referenced = new Set<string>();
    for (const entry of await this.entries()) {
      if (!options.keep.has(entry.key) && Date.parse(entry.pushedAt) < cutoff) {
        removed.push(entry);
        if (!options.dryRun) await this.send('DeleteObjectCommand', { Bucket: this.bucket, Key: this.entryKey(entry.key) });
        continue;
      }
      const kept = await this.readEntry(entry.key).catch(() => undefined);
      const manifest = kept && manifestFromText(kept.manifest, entry.key);
      if (manifest && typeof manifest !== 'string') for (const f of manifest.files) referenced.add(f.sha256);
    }
    let runs = 0;
    for (const object of await this.list(`${this.prefix}/runs/`)) {
      const id = object.Key.slice(`${this.prefix}/runs/`.length).replace(/\.json$/, '');
      if (!RUN_ID.test(id) || options.keepRuns.has(id) || object.LastModified.getTime() >= cutoff) continue;
      runs++;
      if (!options.dryRun) await this.send('DeleteObjectCommand', { Bucket: this.bucket, Key: object.Key });
    }
    let blobs = 0;
    let blobBytes = 0;
    for (const object of await this.list(`${this.prefix}/blobs/`)) {
      const sha = object.Key.slice(`${this.prefix}/blobs/`.length);
      if (referenced.has(sha) || object.LastModified.getTime() >= graceCutoff) continue;
      blobs++;
      blobBytes += object.Size;
      if (!options.dryRun) await this.send('DeleteObjectCommand', { Bucket: this.bucket, Key: object.Key });
    }
    return { removed, runs, blobs, blobBytes };
  }

  private async list(prefix: string): Promise<{ Key: string; LastModified: Date; Size: number }[]> {
    const out: { Key: string; LastModified: Date; Size: number }[] = [];
    let token: string | undefined;
    do {
      const page = await this.send<{ Contents?: { Key?: string; LastModified?: Date; Size?: number }[]; NextContinuationToken?: string; IsTruncated?: boolean }>(
        'ListObjectsV2Command', { Bucket: this.bucket, Prefix: prefix, ContinuationToken: token },
      );
      for (const o of page.Contents ?? []) if (o.Key) out.push({ Key: o.Key, LastModified: o.LastModified ?? new Date(0), Size: o.Size ?? 0 });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
