// What `pipe run` is asked to do, and what it tells its caller as it goes: the library's side of the command
// line, with every flag already parsed (src/cli/commands/run.ts) and nothing printed here.
import type { Gate } from '../config/gates.js';
import type { ExecutionObserver } from '../exec/executor.js';

export interface RunOptions {
  file: string;
  /** Build the stale stages on queue workers at this redis:// URL. */
  queue?: string;
  sets: string[];
  sweeps: string[];
  variant?: string;
  /** Absent: 1, or every variant at once with a queue. */
  jobs?: number;
  force: 'all' | string[];
  only: string[];
  until?: string;
  backend?: string;
  dryRun: boolean;
  logLevel: string;
  failIf: Gate[];
  baseline?: string;
  /** `--name`, checked (src/runs/labels.ts); a sweep passes it to each variant's run unchanged. */
  name?: string;
  /** `--tag`s, checked; a sweep passes them to each variant's run. */
  tags: string[];
  /** The command line the run was started with, kept in its record (a sweep variant's tells whether it ran the file as it is). */
  commandLine: string[];
}

/** What shows a run's stages as they build (the live view): its observer, and when it has finished drawing. */
export interface RunDisplay {
  observer: ExecutionObserver;
  done?: Promise<unknown>;
}

export interface RunEvents {
  /** The store cannot be written: cached stages are used as they are, no record or log is kept. */
  readOnlyStore?(root: string, code: string): void;
  /** The stages about to run, in order, before any does: what is returned hears their events. */
  display?(stages: { id: string; uses: string; upstream: string[] }[]): RunDisplay | undefined;
  /** Ctrl-C or SIGTERM: the run stops at the next safe point (a second one ends the process, exit code 130). */
  interrupted?(signal: NodeJS.Signals): void;
  /** A line about the uploads to the remote cache, once the stages are done. */
  uploads?(line: string): void;
  /** A sweep begins: its id, its variants, how many run at once, and the queue (as messages show it). */
  sweepStarted?(sweep: { id: string; variants: string[]; jobs: number; queue?: string }): void;
  /** A line a sweep's step printed (each step is a `pipe run` process); `label` says which step. */
  stepOutput?(label: string, line: string, stream: 'stdout' | 'stderr'): void;
}
