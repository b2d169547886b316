// `pipe run` of a sweep: the stages variants share are built first, once each (a run of `--only` those stages),
// then every variant runs as its own `pipe run --variant <name>` process, up to --jobs at a time, finding the
// shared stages in the cache. Separate processes give each variant a core of its own and its own TensorFlow.js
// engine; the store's per-key lock still guards against any other run building the same entry. The sweep ends
// with `pipe compare` over the variants.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PipeError } from '../errors.js';
import { printable } from '../printable.js';
import { shownUrl } from '../queue/redis-url.js';
import { listRuns } from '../runs/read.js';
import type { RunRecord } from '../runs/record.js';
import { newRunId } from '../runs/write.js';
import type { Store } from '../store/open-store.js';
import type { RunOptions } from './commands/run.js';
import { SWEEP_RUN_ENV } from './commands/run.js';
import type { OpenedVariant } from './open-pipeline.js';

const PIPE_BIN = fileURLToPath(new URL('../../../bin/pipe.js', import.meta.url));

/** One `pipe run` child: which variant, which stages (all when `only` is absent), which to force. */
export interface SweepStep {
  variant: string;
  only?: string[];
  force: string[];
  shared: boolean;
}

/**
 * The runs a sweep is made of. First, in variant order, one run per variant for the stages it shares with
 * another variant (same key) that no earlier step builds, so each shared key is scheduled once; these run one
 * after another because a later one may read what an earlier one built. Then one run per variant.
 * A forced stage is forced in the step that schedules its key.
 */
export function sweepSteps(variants: { name: string; order: string[]; keys: Record<string, string> }[], force: 'all' | string[]): { shared: SweepStep[]; variants: SweepStep[] } {
  const uses = new Map<string, number>();
  for (const v of variants) for (const id of v.order) uses.set(v.keys[id], (uses.get(v.keys[id]) ?? 0) + 1);
  const isShared = (key: string) => (uses.get(key) ?? 0) > 1;
  const forced = (v: (typeof variants)[number], ids: string[]) => ids.filter((id) => force === 'all' || force.includes(id));
  const scheduled = new Set<string>();
  const shared: SweepStep[] = [];
  for (const v of variants) {
    const ids = v.order.filter((id) => isShared(v.keys[id]) && !scheduled.has(v.keys[id]));
    for (const id of ids) scheduled.add(v.keys[id]);
    if (ids.length) shared.push({ variant: v.name, only: ids, force: forced(v, ids), shared: true });
  }
  return {
    shared,
    variants: variants.map((v) => ({ variant: v.name, force: forced(v, v.order.filter((id) => !isShared(v.keys[id]))), shared: false })),
  };
}

function childArgs(o: RunOptions, step: SweepStep): string[] {
  const args = ['run', o.file, ...o.sets.flatMap((s) => ['--set', s]), ...o.sweeps.flatMap((s) => ['--sweep', s]), '--variant', step.variant];
  for (const id of step.only ?? []) args.push('--only', id);
  for (const id of step.force) args.push(`--force=${id}`);
  if (o.backend) args.push('--backend', o.backend);
  if (o.queue) args.push('--queue', o.queue);
  // Gates judge a variant's metrics; the shared steps stop before them.
  if (!step.shared) {
    for (const gate of o.failIf) args.push('--fail-if', gate.text);
    if (o.baseline) args.push('--baseline', o.baseline);
  }
  args.push('--log-level', o.logLevel);
  return args;
}

/** Runs one step as a child process, its output line by line behind `[label] `; resolves to its exit code. */
function runStep(o: RunOptions, step: SweepStep, sweepId: string, label: string, children: Set<ReturnType<typeof spawn>>): Promise<number> {
  const child = spawn(process.execPath, [PIPE_BIN, ...childArgs(o, step)], {
    env: { ...process.env, [SWEEP_RUN_ENV]: JSON.stringify({ id: sweepId, shared: step.shared }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  // With --json, stdout carries only the sweep's JSON: the children's lines go to stderr.
  const forward = (from: NodeJS.ReadableStream, to: NodeJS.WritableStream) => {
    let rest = '';
    from.setEncoding('utf8');
    from.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) to.write(`[${label}] ${line}\n`);
    });
    from.on('end', () => rest && to.write(`[${label}] ${rest}\n`));
  };
  forward(child.stdout, o.json ? process.stderr : process.stdout);
  forward(child.stderr, process.stderr);
  return new Promise((resolve) => {
    child.on('error', () => resolve(1));
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 130 : 1));
    });
  });
}

export async function runSweep(o: RunOptions, variants: OpenedVariant[], store: Store): Promise<number> {
  const names = variants.map((v) => v.name!);
  if (o.only.length || o.until) {
    throw new PipeError(`${o.only.length ? '--only' : '--until'} runs part of one variant, and this pipeline is swept`, {
      hint: `add --variant <name>; the variants are: ${names.join(' ')}`,
    });
  }
  if (o.dryRun) {
    const { run } = await import('./commands/plan.js');
    return run([o.file, ...o.sets.flatMap((s) => ['--set', s]), ...o.sweeps.flatMap((s) => ['--sweep', s]), ...(o.backend ? ['--backend', o.backend] : []), ...(o.json ? ['--json'] : [])]);
  }
  const steps = sweepSteps(
    variants.map((v) => ({ name: v.name!, order: v.plan.order, keys: Object.fromEntries(v.plan.order.map((id) => [id, v.plan.stages[id].key])) })),
    o.force,
  );
  // A shared step whose stages are all in the cache (here or in its remote tier) has nothing to build.
  const byName = new Map(variants.map((v) => [v.name!, v]));
  const needed: SweepStep[] = [];
  for (const step of steps.shared) {
    const plan = byName.get(step.variant)!.plan;
    const found = await Promise.all(step.only!.map((id) => store.cache.locate(plan.stages[id].key)));
    if (step.force.length || found.includes(undefined)) needed.push(step);
  }
  const sweepId = newRunId();
  const out = o.json ? process.stderr : process.stdout;
  // On the queue a variant's process only submits and waits: the workers set the pace.
  const jobs = o.jobs ?? (o.queue ? variants.length : 1);
  out.write(`sweep ${sweepId}: ${variants.length} variants (${names.join(', ')}), ${jobs} at a time${o.queue ? ` on the queue ${shownUrl(o.queue)}` : ''}\n`);

  const children = new Set<ReturnType<typeof spawn>>();
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    stopping = true;
    // Ctrl-C reaches the children from the terminal; a signal sent to this process alone is passed on.
    for (const child of children) child.kill(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const codes: number[] = [];
  try {
    for (const step of needed) {
      if (stopping) break;
      const code = await runStep(o, step, sweepId, `shared: ${step.only!.join(' ')}`, children);
      codes.push(code);
      if (code !== 0) break;
    }
    if (!codes.some((c) => c !== 0)) {
      const queue = [...steps.variants];
      const worker = async () => {
        for (let step = queue.shift(); step && !stopping; step = queue.shift()) codes.push(await runStep(o, step, sweepId, step.variant, children));
      };
      await Promise.all(Array.from({ length: Math.min(jobs, queue.length) }, worker));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const records = (await listRuns(store.root)).filter((r) => r.sweep?.id === sweepId);
  const runs = names.map((name) => records.find((r) => !r.sweep!.shared && r.sweep!.variant === name)).filter((r): r is RunRecord => r !== undefined);
  const { comparisonOutput } = await import('./commands/compare.js');
  const compare = async (format: 'text' | 'json') => {
    try {
      return await comparisonOutput(runs.map((record) => ({ record, storeRoot: store.root })), format, o.sort);
    } catch (err) {
      if (!(err instanceof PipeError) || !o.sort) throw err;
      process.stderr.write(`${err.format()}\n`);
      return comparisonOutput(runs.map((record) => ({ record, storeRoot: store.root })), format);
    }
  };
  if (o.json) {
    const comparison = runs.length ? JSON.parse(await compare('json')) : undefined;
    process.stdout.write(`${JSON.stringify({ sweep: sweepId, shared: records.filter((r) => r.sweep!.shared), runs, comparison }, null, 2)}\n`);
  } else if (runs.length) {
    process.stdout.write(`\n${printable(variants[0].plan.pipeline.name, { singleLine: true })}: sweep of ${variants.length} variants${o.sort ? `, best first on ${o.sort}` : ''}\n`);
    process.stdout.write(await compare('text'));
  }
  if (codes.includes(130) || stopping) return 130;
  return codes.find((c) => c !== 0) ?? 0;
}
