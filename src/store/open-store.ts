// The one place the store is built: its three parts (input hasher, artifact cache with its tiers, run log)
// from the flags, the environment and the pipeline's `cache:` setting.
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

export type { CacheSettings };

export interface StoreOptions {
  /** `--cache <dir>`. */
  flag?: string;
  pipeline?: CacheSettings;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Where warnings about the remote tier go (default: stderr). */
  warn?: (message: string) => void;
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
  return {
    root,
    hasher: new StatCacheHasher(statCache),
    cache: new ArtifactCache(local, undefined, options.warn),
    runs: new RunLog(root),
  };
}
