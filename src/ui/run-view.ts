// The live view of a run: one listr2 task per stage (running, cached, done with time, failed with the reason)
// with the stage's own progress line under it. In CI or a non-TTY it prints plain lines (listr2's simple
// renderer) and throttles progress so logs stay readable; colour follows NO_COLOR (listr2 uses colorette).
import { Listr, type ListrTask } from 'listr2';
import type { ExecutionObserver, StageOutcome } from '../exec/executor.js';
import { messageOf } from '../exec/executor.js';
import { printable } from '../printable.js';

interface Deferred {
  promise: Promise<StageOutcome>;
  resolve(o: StageOutcome): void;
}

function deferred(): Deferred {
  let resolve!: (o: StageOutcome) => void;
  const promise = new Promise<StageOutcome>((r) => (resolve = r));
  return { promise, resolve };
}

export function formatSeconds(seconds: number): string {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m < 60 ? `${m}m${String(s).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export interface RunView {
  observer: ExecutionObserver;
  /** Resolves when every task has been rendered to its end. */
  done: Promise<void>;
}

export function isPlainOutput(): boolean {
  return !process.stdout.isTTY || Boolean(process.env.CI) || process.env.TERM === 'dumb';
}

export function createRunView(written: { id: string; uses: string; upstream: string[] }[]): RunView {
  // `uses:` may be a path as the user wrote it.
  const stages = written.map((s) => ({ ...s, uses: printable(s.uses, { singleLine: true }) }));
  const plain = isPlainOutput();
  // In plain output every progress change is a new line: keep to one per stage every 15 s.
  const minInterval = plain ? 15_000 : 100;
  const outcome = new Map(stages.map((s) => [s.id, deferred()]));
  const outputs = new Map<string, (message: string) => void>();
  const titles = new Map<string, (title: string) => void>();
  const lastShown = new Map<string, number>();

  // listr2 spins every unfinished task; a stage still waiting for its inputs says so in its title.
  const tasks: ListrTask[] = stages.map(({ id, uses, upstream }) => ({
    title: upstream.length ? `${id} (${uses}) · waiting for ${upstream.join(', ')}` : `${id} (${uses})`,
    task: async (_ctx, task) => {
      outputs.set(id, (message) => {
        task.output = message;
      });
      titles.set(id, (title) => {
        task.title = title;
      });
      const result = await outcome.get(id)!.promise;
      switch (result.status) {
        case 'cached':
          task.title = `${id} (${uses}) · ${result.tier === 'remote' ? 'cached (remote)' : 'cached'}`;
          return;
        case 'ran':
          task.title = `${id} (${uses}) · done in ${formatSeconds(result.seconds)}`;
          return;
        case 'skipped':
          task.skip(`${id} (${uses}) · skipped: ${result.reason}`);
          return;
        case 'interrupted':
          throw new Error(`${id} (${uses}) · interrupted after ${formatSeconds(result.seconds)}`);
        case 'failed':
          throw new Error(`${id} (${uses}) · failed: ${printable(messageOf(result.error))}`);
      }
    },
    rendererOptions: { outputBar: 1, persistentOutput: false },
  }));

  const list = new Listr(tasks, {
    concurrent: true,
    exitOnError: false,
    registerSignalListeners: false,
    renderer: 'default',
    fallbackRenderer: 'simple',
    fallbackRendererCondition: plain,
    rendererOptions: { collapseErrors: false, showErrorMessage: true },
    fallbackRendererOptions: { timestamp: undefined },
  });
  const done = list.run().then(
    () => undefined,
    () => undefined,
  );

  const observer: ExecutionObserver = {
    stageStarted(id) {
      const stage = stages.find((s) => s.id === id)!;
      titles.get(id)?.(`${id} (${stage.uses})`);
    },
    stageProgress(id, message) {
      const now = Date.now();
      if (now - (lastShown.get(id) ?? 0) < minInterval) return;
      lastShown.set(id, now);
      outputs.get(id)?.(message);
    },
    stageWaiting(id, message) {
      outputs.get(id)?.(message);
    },
    warn(id, message) {
      outputs.get(id)?.(`warning: ${printable(message)}`);
    },
    stageFinished(id, result) {
      outcome.get(id)?.resolve(result);
    },
  };
  return { observer, done };
}
