// The one place the store is built: its three parts (input hasher, artifact cache with its tiers, run log)
// from the flags, the environment and the pipeline's `cache:` setting.
//
// The remote tier: $PIPE_REMOTE_CACHE (wins) or the pipeline's `cache: { remote }`: s3://bucket/prefix, with
// $PIPE_REMOTE_CACHE_ENDPOINT for S3-compatible servers and the standard AWS credential variables, or
// file:///path of a shared folder (NFS, SMB). Either way it speaks one protocol (remote/protocol.ts) and is
// read-only unless $PIPE_REMOTE_CACHE_WRITE=1 (only the environment can switch writes on, never a pipeline
// file a pull request could edit). $PIPE_REMOTE_CACHE_TIMEOUT (seconds, default 30) bounds each request, and a
// transfer of n bytes gets that plus n at $PIPE_REMOTE_CACHE_MIN_RATE (bytes per second, "1MB"; default 256KiB);
// $PIPE_CACHE_SIGNING_KEY signs pushed entries and rejects fetched entries not signed with it.
//
// Where the local store lives, in order: `--cache <dir>`, $PIPE_ARTIFACTS (so CI can point every pipeline at
// one restored cache), the pipeline's `cache:` folder (already absolute), else ./artifacts. Relative paths
// resolve against the working directory.
import { resolve } from 'node:path';
import type { CacheSettings } from '../config/types.js';
import { ArtifactCache } from './artifact-cache.js';
import { StatCacheHasher, type InputHasher } from './input-hasher.js';
import { LocalStore, statCacheIn } from './local-store.js';
import { RunLog } from './run-log.js';
import { PipeError } from '../errors.js';
import { envSeconds } from '../env-seconds.js';
import { FolderBlobStore, parseFolderUrl } from './remote/folder.js';
import { RemoteCacheTier, type RemoteSettings } from './remote/protocol.js';
import { parseS3Url, S3BlobStore } from './remote/s3.js';
import { parseSize } from './units.js';

export type { CacheSettings };

export interface StoreOptions {
  /** `--cache <dir>`. */
  flag?: string;
  pipeline?: CacheSettings;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Where warnings about the remote tier go (default: stderr). */
  warn?: (message: string) => void;
  /** Allow writes to the remote whatever the environment says (`pipe cache push`, `gc --remote`). */
  write?: boolean;
}

export const DEFAULT_REMOTE_TIMEOUT_S = 30;

/** The remote tier's settings, or undefined when none is configured. Bad values are a PipeError (exit 2). */
export function remoteSettings(options: StoreOptions = {}): RemoteSettings | undefined {
  const env = options.env ?? process.env;
  const url = env.PIPE_REMOTE_CACHE?.trim() || options.pipeline?.remote;
  if (!url) return undefined;
  const problem = remoteUrlProblem(url);
  if (problem) {
    throw new PipeError(`remote cache: ${problem}`, {
      hint: 'set PIPE_REMOTE_CACHE (or cache: { remote: } in the pipeline) to s3://bucket/prefix, or to file:///path of a shared folder',
    });
  }
  const endpoint = env.PIPE_REMOTE_CACHE_ENDPOINT?.trim() || undefined;
  if (endpoint && !/^https?:\/\/[^\s/]+(\/.*)?$/.test(endpoint)) {
    throw new PipeError(`PIPE_REMOTE_CACHE_ENDPOINT '${endpoint}' is not an http(s) URL`, { hint: 'e.g. PIPE_REMOTE_CACHE_ENDPOINT=http://127.0.0.1:9000' });
  }
  const timeout = envSeconds('PIPE_REMOTE_CACHE_TIMEOUT', { env, fallback: options.pipeline?.timeout ?? DEFAULT_REMOTE_TIMEOUT_S, example: 10 });
  const rateText = env.PIPE_REMOTE_CACHE_MIN_RATE?.trim();
  const minRate = rateText ? parseSize(rateText, 'PIPE_REMOTE_CACHE_MIN_RATE') : undefined;
  if (minRate !== undefined && !(minRate > 0)) {
    throw new PipeError(`PIPE_REMOTE_CACHE_MIN_RATE '${rateText}' is not a positive rate`, { hint: 'bytes per second, e.g. PIPE_REMOTE_CACHE_MIN_RATE=1MB' });
  }
  const write = env.PIPE_REMOTE_CACHE_WRITE?.trim();
  return {
    url,
    endpoint,
    writable: options.write === true || write === '1' || write === 'true',
    timeoutMs: Math.round(timeout * 1000),
    ...(minRate === undefined ? {} : { minRate }),
    signingKey: env.PIPE_CACHE_SIGNING_KEY || undefined,
  };
}

/** What is wrong with a remote cache URL, or undefined. */
function remoteUrlProblem(url: string): string | undefined {
  if (url.startsWith('file:')) {
    const parsed = parseFolderUrl(url);
    return typeof parsed === 'string' ? parsed : undefined;
  }
  if (url.startsWith('s3:')) {
    const parsed = parseS3Url(url);
    return typeof parsed === 'string' ? parsed : undefined;
  }
  return `'${url}' is neither an s3:// nor a file:// URL`;
}

/** The remote tier of the settings: the protocol over the URL's blob store. */
async function remoteTier(settings: RemoteSettings): Promise<RemoteCacheTier> {
  if (!settings.url.startsWith('file:')) return new RemoteCacheTier(new S3BlobStore(settings.url, settings.endpoint), settings);
  const folder = new FolderBlobStore((parseFolderUrl(settings.url) as { path: string }).path);
  if (settings.writable) await folder.checkWritable(settings.url);
  return new RemoteCacheTier(folder, settings);
}

export interface Store {
  /** The local store's folder. */
  root: string;
  hasher: InputHasher;
  cache: ArtifactCache;
  runs: RunLog;
}

export function storeRoot(options: StoreOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  if (options.flag) return resolve(cwd, options.flag);
  if (env.PIPE_ARTIFACTS) return resolve(cwd, env.PIPE_ARTIFACTS);
  return options.pipeline?.dir ?? resolve(cwd, 'artifacts');
}

export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const root = storeRoot(options);
  const statCache = statCacheIn(root);
  const local = new LocalStore(root, statCache);
  const remote = remoteSettings(options);
  return {
    root,
    hasher: new StatCacheHasher(statCache),
    cache: new ArtifactCache(local, remote && (await remoteTier(remote)), options.warn),
    runs: new RunLog(root),
  };
}
