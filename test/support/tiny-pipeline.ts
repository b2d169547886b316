// The tiny pipeline (test/fixtures/use/tiny.yaml: synthetic faces at 24 px, one small CNN, evaluate, leakage,
// report) run through the real CLI in a child process, with its own artifact store.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PIPE_BIN, REPO_ROOT } from '../../harness/toy-project.js';

export const TINY_PIPELINE = join(REPO_ROOT, 'test', 'fixtures', 'use', 'tiny.yaml');

export interface PipeRunner {
  store: string;
  /** `bin`: another build's CLI (default: this checkout's). */
  pipe(args: string[], options?: { cwd?: string; env?: Record<string, string>; bin?: string }): SpawnSyncReturns<string>;
}

/** A CLI runner with a fresh store in a temp folder (PIPE_ARTIFACTS), plain output, cwd = the repository. */
export async function pipeWithStore(prefix = 'pipe-use-'): Promise<PipeRunner> {
  const store = await mkdtemp(join(tmpdir(), prefix));
  return {
    store,
    pipe: (args, options = {}) =>
      spawnSync(process.execPath, [options.bin ?? PIPE_BIN, ...args], {
        cwd: options.cwd ?? REPO_ROOT,
        encoding: 'utf8',
        env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: store, ...options.env },
      }),
  };
}
