// Where a run came from, kept in its record: the git commit of the pipeline's checkout (and whether tracked files
// had uncommitted changes), the host, and the version of pipe. Git is asked only where it is installed, with a
// short deadline: a missing, slow or broken git leaves the fields out and never fails or holds up a run.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

export interface GitState {
  /** The full commit hash of HEAD. */
  commit: string;
  /** Whether tracked files differ from HEAD (untracked files do not count: outputs and scratch files often are). */
  dirty: boolean;
}

/** How long each git command may take before the run goes on without it. */
export const GIT_TIMEOUT_MS = 2000;

function git(dir: string, args: string[], timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    try {
      execFile(
        'git',
        ['-C', dir, ...args],
        // GIT_OPTIONAL_LOCKS=0: `git status` must not take the index lock (and so race the user's own git).
        { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 4 * 1024 * 1024, windowsHide: true, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0', LC_ALL: 'C' } },
        (err, stdout) => resolve(err ? undefined : stdout),
      );
    } catch {
      resolve(undefined);
    }
  });
}

/** The commit and dirtiness of the git checkout holding `dir`; undefined outside one, or without a working git. */
export async function gitState(dir: string, timeoutMs = GIT_TIMEOUT_MS): Promise<GitState | undefined> {
  const [head, status] = await Promise.all([
    git(dir, ['rev-parse', '--verify', '--quiet', 'HEAD'], timeoutMs),
    git(dir, ['status', '--porcelain', '--untracked-files=no'], timeoutMs),
  ]);
  const commit = head?.trim();
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit) || status === undefined) return undefined;
  return { commit, dirty: status.trim().length > 0 };
}

let version: string | undefined;

/** The version of pipe itself (its package.json). */
export function pipeVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  return version;
}

/** The host's name, as people know it (the record's owner.host is a tag of it, for pids). */
export function hostName(): string {
  return hostname();
}
