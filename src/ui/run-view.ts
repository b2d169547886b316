// The live view of a run. In a terminal: one listr2 task per stage (waiting, running, cached, done with its
// time, failed with the reason) with the stage's own progress line under it. In plain mode (CI, a pipe,
// NO_COLOR, TERM=dumb): one line per event, each naming its stage, progress throttled so logs stay readable,
// and every note (an epoch's losses and accuracies, a resumed checkpoint) on a line of its own.
import { Listr, type ListrTask } from 'listr2';
import { formatDuration } from '../duration.js';
import type { ExecutionObserver, StageOutcome } from '../exec/executor.js';
import { messageOf } from '../exec/executor.js';
import { printable } from '../printable.js';

export { formatDuration as formatSeconds } from '../duration.js';

export interface RunView {
  observer: ExecutionObserver;
  /** Resolves when every stage has been rendered to its end. */
  done: Promise<void>;
}

interface ViewStage {
  id: string;
  uses: string;
  upstream: string[];
}

/** Plain lines instead of a redrawn screen: not a terminal, CI, NO_COLOR or a dumb terminal. */
export function isPlainOutput(): boolean {
  return !process.stdout.isTTY || Boolean(process.env.CI) || process.env.TERM === 'dumb' || 'NO_COLOR' in process.env;
}

/** In plain output each progress change is a new line: at most one per stage this often. */
const PLAIN_PROGRESS_INTERVAL_MS = 15_000;

function outcomeLine(stage: ViewStage, result: StageOutcome): { ok: boolean; text: string } {
  const name = `${stage.id} (${stage.uses})`;
  switch (result.status) {
    case 'cached':
      return { ok: true, text: `${name} · ${result.tier === 'remote' ? 'cached (remote)' : 'cached'}${onWorker(result.worker)}` };
    case 'ran':
      return { ok: true, text: `${name} · done in ${formatDuration(result.seconds)}${onWorker(result.worker)}` };
    case 'skipped':
      return { ok: false, text: `${name} · skipped: ${result.reason}` };
    case 'interrupted':
      return { ok: false, text: `${name} · interrupted after ${formatDuration(result.seconds)}` };
    case 'failed':
      return { ok: false, text: `${name} · failed: ${printable(messageOf(result.error))}` };
  }
}

function onWorker(host: string | undefined): string {
  return host ? ` on ${printable(host, { singleLine: true })}` : '';
}

export function createRunView(written: ViewStage[], options: { plain?: boolean; write?: (line: string) => void } = {}): RunView {
  // `uses:` may be a path as the user wrote it, and messages quote pipeline and data text (class names, file names).
  const stages = written.map((s) => ({ ...s, uses: printable(s.uses, { singleLine: true }) }));
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  return (options.plain ?? isPlainOutput()) ? plainView(stages, (line) => write(printable(line))) : terminalView(stages);
}

function plainView(stages: ViewStage[], write: (line: string) => void): RunView {
  const byId = new Map(stages.map((s) => [s.id, s]));
  const lastShown = new Map<string, number>();
  let pending = stages.length;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  if (pending === 0) finish();
  const observer: ExecutionObserver = {
    stageStarted(id) {
      const s = byId.get(id);
      if (s) write(`▸ ${s.id} (${s.uses}) · running`);
    },
    stageProgress(id, message) {
      const now = Date.now();
      if (now - (lastShown.get(id) ?? 0) < PLAIN_PROGRESS_INTERVAL_MS) return;
      lastShown.set(id, now);
      write(`  ${id}: ${message}`);
    },
    stageNote(id, message) {
      write(`  ${id}: ${message}`);
    },
    stageWaiting(id, message) {
      write(`  ${id}: ${message}`);
    },
    stageWorker(id, host) {
      write(`  ${id}: on ${host}`);
    },
    warn(id, message) {
      write(`  ${id}: warning: ${message}`);
    },
    stageFinished(id, result) {
      const s = byId.get(id);
      if (!s) return;
      const line = outcomeLine(s, result);
      write(`${line.ok ? '✔' : result.status === 'skipped' ? '↓' : '✖'} ${line.text}`);
      if (--pending === 0) finish();
    },
  };
  return { observer, done };
}

function terminalView(stages: ViewStage[]): RunView {
  const finished = new Set<string>();
  const started = new Set<string>();
  const notes = new Map<string, string>();
  const workers = new Map<string, string>();
  const outcome = new Map<string, { promise: Promise<StageOutcome>; resolve(o: StageOutcome): void }>();
  for (const s of stages) {
    let resolve!: (o: StageOutcome) => void;
    const promise = new Promise<StageOutcome>((r) => (resolve = r));
    outcome.set(s.id, { promise, resolve });
  }
  // Executor events may come before listr2 has started a stage's task (a stage whose inputs are cached starts
  // at once): each task reads the current title and output when it starts, and later events update it live.
  const tasks = new Map<string, { title: string; output: string }>();
  const titleOf = (s: ViewStage): string => {
    const base = `${s.id} (${s.uses})${onWorker(workers.get(s.id))}`;
    if (started.has(s.id)) return notes.has(s.id) ? `${base} · ${notes.get(s.id)}` : base;
    const waiting = s.upstream.filter((u) => !finished.has(u));
    return waiting.length ? `${base} · waiting for ${waiting.join(', ')}` : base;
  };
  const refresh = () => {
    for (const s of stages) {
      const task = tasks.get(s.id);
      if (task && !finished.has(s.id)) task.title = titleOf(s);
    }
  };

  const listrTasks: ListrTask[] = stages.map((s) => ({
    title: titleOf(s),
    task: async (_ctx, task) => {
      tasks.set(s.id, task);
      task.title = titleOf(s);
      const result = await outcome.get(s.id)!.promise;
      const line = outcomeLine(s, result);
      if (result.status === 'skipped') {
        task.skip(line.text);
        return;
      }
      task.title = line.text;
      if (!line.ok) throw new Error(line.text);
    },
    rendererOptions: { outputBar: 1, persistentOutput: false },
  }));

  const list = new Listr(listrTasks, {
    concurrent: true,
    exitOnError: false,
    registerSignalListeners: false,
    rendererOptions: { collapseErrors: false, showErrorMessage: true },
  });
  const done = list.run().then(
    () => undefined,
    () => undefined,
  );
  const lastShown = new Map<string, number>();

  const observer: ExecutionObserver = {
    stageStarted(id) {
      started.add(id);
      refresh();
    },
    stageProgress(id, message) {
      const now = Date.now();
      if (now - (lastShown.get(id) ?? 0) < 100) return;
      lastShown.set(id, now);
      const task = tasks.get(id);
      if (task) task.output = printable(message);
    },
    stageNote(id, message) {
      // The latest note stays in the title ("resuming from …", "epoch 3/6 · loss …") while progress runs below.
      notes.set(id, printable(message, { singleLine: true }));
      refresh();
    },
    stageWaiting(id, message) {
      const task = tasks.get(id);
      if (task) task.output = printable(message);
    },
    stageWorker(id, host) {
      workers.set(id, host);
      refresh();
    },
    warn(id, message) {
      const task = tasks.get(id);
      if (task) task.output = `warning: ${printable(message)}`;
    },
    stageFinished(id, result) {
      finished.add(id);
      outcome.get(id)?.resolve(result);
      refresh();
    },
  };
  return { observer, done };
}
