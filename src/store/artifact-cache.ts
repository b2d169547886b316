// The artifact cache: key -> entry, in tiers. The local filesystem store (local-store.ts) always; a remote
// tier (S3-compatible storage or a shared folder, remote/protocol.ts) when one is configured.
//   lookup: local, else (when asked) remote: the remote entry is verified file by file and moved into the
//           local store atomically, as a local build would be.
//   commit: local, then a push in the background (files first, manifest last) when writing is allowed;
//           flush() waits for the pushes.
// A fault of the remote never fails a run that could succeed locally: the first one switches the remote off
// for the rest of the process, with one warning. A remote entry that is not what the stage would build (another
// stage type, other outputs) is forged: it is ignored with a warning, and only that stage is built here.
import type { RunOutline } from '../runs/read.js';
import type { LocalStore, Lookup, Manifest, PendingEntry, LockHolder } from './local-store.js';

export type CacheTier = 'local' | 'remote';

export type CacheLookup =
  | { status: 'hit'; dir: string; manifest: Manifest; tier: CacheTier }
  | { status: 'miss' }
  | { status: 'damaged'; reason: string };

/** What the remote tier answers for one key. */
export type RemoteFetch =
  | { status: 'fetched' }
  | { status: 'absent' }
  /** The remote holds something under this key that must not be used (corrupt, unsigned, forged). */
  | { status: 'rejected'; reason: string };

/** What the planned stage of a key would store: a remote entry that holds something else is forged. */
export interface EntryExpectation {
  /** The stage type: its module's `name`, which the key covers (the manifest's meta.keyParts.uses). */
  type: string;
  /** `uses:` as this pipeline writes it (another pipeline may spell a module path differently). */
  uses: string;
  /** Its declared outputs' file names: "data.arrow", or "model/" for a folder. */
  outputs: string[];
}

/** Options of a remote fetch. */
export interface RemoteFetchOptions {
  expect?: EntryExpectation;
  /** Aborting it cancels the transfers in flight (the run was interrupted). */
  signal?: AbortSignal;
}

/**
 * Why `manifest` is not an entry of the expected stage, or undefined: its stage type must be the planned one
 * (the type its key parts name; without them, its `uses`), each declared file output must be there as a file,
 * and no folder output may be a file. (A folder output may hold no files, e.g. a report with no charts:
 * manifests list files only.) Other files are allowed: a stage may write more than its outputs
 * (StageContext.outDir), and they are stored with it.
 */
export function expectationProblem(manifest: Pick<Manifest, 'uses' | 'files' | 'meta'>, expect: EntryExpectation): string | undefined {
  const type = (manifest.meta?.keyParts as { uses?: unknown } | undefined)?.uses;
  if (typeof type === 'string' ? type !== expect.type : manifest.uses !== expect.uses) {
    const [theirs, ours] = typeof type === 'string' ? [type, expect.type] : [manifest.uses, expect.uses];
    return `it is an entry of stage type '${theirs}', and this stage is '${ours}'`;
  }
  const paths = manifest.files.map((f) => f.path);
  for (const output of expect.outputs) {
    const folder = output.endsWith('/');
    const name = output.replace(/\/+$/, '');
    const asFile = paths.includes(name);
    const asFolder = paths.some((p) => p.startsWith(`${name}/`));
    if (folder ? asFile : !asFile) {
      const found = asFile ? 'a file' : asFolder ? 'a folder' : 'missing';
      return `its files are not this stage's outputs: ${output} is ${found} (it holds ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? ', …' : ''})`;
    }
  }
  return undefined;
}

export interface RemoteTier {
  /** Where it is, for messages: s3://bucket/prefix or file:///path. */
  readonly location: string;
  /** Whether this process may write to it. */
  readonly writable: boolean;
  /**
   * Copy the entry of `key` into the local store (verified, atomically); one that does not meet
   * `options.expect` is rejected before its files are fetched. Throws on faults of the remote.
   */
  fetchInto(key: string, local: LocalStore, options?: RemoteFetchOptions): Promise<RemoteFetch>;
  /**
   * Upload the local entry of `key` (files first, manifest last). With `replace`, what the remote holds for
   * it (found corrupt or forged) is overwritten, files included; aborting `signal` cancels it (the entry object
   * goes last, so a cancelled push leaves no entry). Throws on faults of the remote.
   */
  push(key: string, local: LocalStore, options?: { replace?: boolean; signal?: AbortSignal }): Promise<'pushed' | 'present'>;
  /** Whether the remote holds a manifest for `key`. */
  has(key: string): Promise<boolean>;
  /** Record which entries a run used, so that gc of the remote keeps those of the latest runs. */
  pushRun(outline: RunOutline): Promise<void>;
}

export interface PushReport {
  pushed: string[];
  /** Already there (another machine pushed the same key). */
  present: string[];
  failed: { key: string; reason: string }[];
}

export class ArtifactCache {
  private remoteOff?: string;
  private readonly pushes = new Map<string, Promise<void>>();
  private readonly report: PushReport = { pushed: [], present: [], failed: [] };
  /** Keys this process brought from the remote: their hits count as remote ones. */
  private readonly fetched = new Set<string>();
  /** Keys whose remote entry was corrupt or forged: a push replaces it. */
  private readonly rejected = new Set<string>();
  /** Keys the remote did not have, or had in a form we rejected. */
  private readonly notRemote = new Set<string>();
  /** Aborted to cancel the pushes in flight (flush's signal). */
  private readonly stopPushes = new AbortController();

  constructor(
    readonly local: LocalStore,
    readonly remote?: RemoteTier,
    /** Told once when the remote stops being used, and about each rejected remote entry. */
    private readonly warn: (message: string) => void = (m) => process.stderr.write(`warning: ${m}\n`),
  ) {}

  get root(): string {
    return this.local.root;
  }

  /** The remote tier while it works (undefined after a fault, or when none is configured). */
  get activeRemote(): RemoteTier | undefined {
    return this.remoteOff === undefined ? this.remote : undefined;
  }

  /**
   * The entry of `key`: local, else with `remote` from the remote tier (moved into the local store first).
   * Call with `remote` only under the key's lock, so that one process fetches it. The remote is asked once per
   * key and process, unless `recheck` (another machine has just pushed the entry). `expect` says what the
   * entry must hold to be used from the remote; aborting `signal` cancels the fetch (the lookup is then a miss).
   */
  async lookup(key: string, options: { remote?: boolean; rehash?: boolean; recheck?: boolean } & RemoteFetchOptions = {}): Promise<CacheLookup> {
    const found: Lookup = await this.local.lookup(key, { rehash: options.rehash });
    if (found.status === 'hit') return { ...found, tier: this.fetched.has(key) ? 'remote' : 'local' };
    const remote = this.activeRemote;
    if (options.recheck && !this.rejected.has(key)) this.notRemote.delete(key);
    if (!options.remote || !remote || found.status === 'damaged' || this.notRemote.has(key)) return found;
    const fetched = await this.remoteCall(() => remote.fetchInto(key, this.local, { expect: options.expect, signal: options.signal }), options.signal);
    if (options.signal?.aborted) return found;
    if (fetched?.status === 'rejected') {
      this.warn(`remote cache entry ${key.slice(0, 12)} ignored: ${fetched.reason}; building it here`);
      this.rejected.add(key);
    }
    if (fetched?.status !== 'fetched') {
      this.notRemote.add(key); // asked once per process
      return found;
    }
    this.fetched.add(key);
    const again = await this.local.lookup(key);
    return again.status === 'hit' ? { ...again, tier: 'remote' } : again;
  }

  /** Which tier holds `key`, without fetching it (undefined: none, or the remote is unreachable). */
  async locate(key: string): Promise<CacheTier | undefined> {
    if ((await this.local.lookup(key)).status === 'hit') return 'local';
    const remote = this.activeRemote;
    return remote && (await this.remoteCall(() => remote.has(key))) ? 'remote' : undefined;
  }

  /**
   * Bring the entry of `key` from the remote into the local store if it is there and not here, under the
   * key's lock. A run prefetches every stage it may need at once, instead of one after another as the
   * stages' upstream finish.
   */
  async prefetch(key: string, options: RemoteFetchOptions = {}): Promise<void> {
    if (!this.activeRemote || (await this.local.lookup(key)).status !== 'miss') return;
    await this.withLock(key, () => undefined, () => this.lookup(key, { remote: true, ...options }));
  }

  /** A temp entry to build into; its commit also starts the push when the remote is writable. */
  async begin(key: string, info: { stage: string; uses: string }): Promise<PendingEntry> {
    const pending = await this.local.begin(key, info);
    return {
      dir: pending.dir,
      abort: () => pending.abort(),
      commit: async (extra) => {
        const manifest = await pending.commit(extra);
        this.schedulePush(key);
        return manifest;
      },
    };
  }

  /** Push a local entry in the background (no-op without a writable remote). */
  schedulePush(key: string): void {
    const remote = this.activeRemote;
    if (!remote?.writable || this.pushes.has(key)) return;
    this.pushes.set(
      key,
      (async () => {
        try {
          const result = await remote.push(key, this.local, { replace: this.rejected.has(key), signal: this.stopPushes.signal });
          this.report[result].push(key);
        } catch (err) {
          this.report.failed.push({ key, reason: messageOf(err) });
          if (!this.stopPushes.signal.aborted) this.disableRemote(err);
        }
      })(),
    );
  }

  /**
   * Tell the remote which entries a finished run used (no-op without a writable remote): `pipe cache gc --remote`
   * keeps the entries of each pipeline's latest runs, also where their inputs are missing.
   */
  async recordRun(outline: RunOutline): Promise<void> {
    const remote = this.activeRemote;
    if (remote?.writable) await this.remoteCall(() => remote.pushRun(outline));
  }

  /** Pushes started and not finished. */
  get pendingPushes(): number {
    return this.pushes.size - this.report.pushed.length - this.report.present.length - this.report.failed.length;
  }

  /** Wait for every push started so far; aborting `signal` cancels them (they count as failed). */
  async flush(signal?: AbortSignal): Promise<PushReport> {
    const stop = () => this.stopPushes.abort();
    if (signal?.aborted) stop();
    signal?.addEventListener('abort', stop, { once: true });
    for (;;) {
      const before = this.pushes.size;
      await Promise.all(this.pushes.values());
      if (this.pushes.size === before) return this.report;
    }
  }

  discard(key: string): Promise<void> {
    return this.local.discard(key);
  }

  scratchDir(key: string): Promise<string> {
    return this.local.scratchDir(key);
  }

  clearScratch(key: string): Promise<void> {
    return this.local.clearScratch(key);
  }

  withLock<T>(key: string, onWait: (holder: LockHolder) => void, fn: () => Promise<T>): Promise<T> {
    return this.local.withLock(key, onWait, fn);
  }

  touch(key: string): Promise<void> {
    return this.local.touch(key);
  }

  /**
   * Run a remote call; on a fault switch the remote off (one warning) and resolve to undefined. A call that
   * failed because `signal` was aborted is no fault of the remote.
   */
  async remoteCall<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T | undefined> {
    try {
      return await call();
    } catch (err) {
      if (!signal?.aborted) this.disableRemote(err);
      return undefined;
    }
  }

  private disableRemote(err: unknown): void {
    if (this.remoteOff !== undefined || !this.remote) return;
    this.remoteOff = messageOf(err);
    this.warn(`remote cache ${this.remote.location} unavailable (${this.remoteOff}); continuing with the local cache only`);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
