// A `pipe` child process whose output a test can wait on line by line (an event, not a delay).
import type { ChildProcess } from 'node:child_process';
import { spawnPipe } from './toy-project.js';

export interface PipeProcess {
  child: ChildProcess;
  /** stdout so far. */
  readonly stdout: string;
  /** stdout and stderr so far, interleaved as they came. */
  readonly output: string;
  /** The first line of stdout or stderr matching `pattern` (now or when it comes); rejects if the process exits first. */
  waitFor(pattern: RegExp): Promise<string>;
  /** As waitFor, for lines printed from now on only. */
  next(pattern: RegExp): Promise<string>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Send `signal` (SIGTERM by default) by PID unless it has exited; resolves once it has. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startPipe(dir: string, args: string[], env: Record<string, string> = {}): PipeProcess {
  const child = spawnPipe(dir, args, env);
  let stdout = '';
  let output = '';
  const waiters = new Set<{ pattern: RegExp; resolve(line: string): void; reject(err: Error): void }>();
  const lines: string[] = [];
  const take = (stream: 'stdout' | 'stderr') => {
    let rest = '';
    child[stream].on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      output += text;
      if (stream === 'stdout') stdout += text;
      const parts = (rest + text).split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        for (const w of waiters) {
          if (w.pattern.test(line)) {
            waiters.delete(w);
            w.resolve(line);
          }
        }
      }
    });
  };
  take('stdout');
  take('stderr');
  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      done = true;
      for (const w of waiters) w.reject(new Error(`pipe ${args.join(' ')} exited (${code ?? signal}) before printing ${w.pattern}:\n${output}`));
      waiters.clear();
      resolve({ code, signal });
    }),
  );
  const waitFor = (pattern: RegExp, from: number) =>
    new Promise<string>((resolve, reject) => {
      const seen = lines.slice(from).find((l) => pattern.test(l));
      if (seen !== undefined) return resolve(seen);
      if (done) return reject(new Error(`pipe ${args.join(' ')} exited before printing ${pattern}:\n${output}`));
      waiters.add({ pattern, resolve, reject });
    });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get output() {
      return output;
    },
    waitFor: (pattern) => waitFor(pattern, 0),
    next: (pattern) => waitFor(pattern, lines.length),
    exited,
    stop: (signal = 'SIGTERM') => {
      if (!done) process.kill(child.pid!, signal);
      return exited;
    },
  };
}

/** A `pipe worker` on `queue`, once it says it is ready. */
export async function startWorker(dir: string, queue: string, env: Record<string, string>, labels: string[] = []): Promise<PipeProcess> {
  const worker = startPipe(dir, ['worker', '--queue', queue, ...(labels.length ? ['--labels', labels.join(',')] : [])], env);
  await worker.waitFor(/ ready: /);
  return worker;
}
