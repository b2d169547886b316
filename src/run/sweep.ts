// `pipe run` of a sweep: the stages variants share are built first, once each (a run of `--only` those stages),
// then every variant runs as its own `pipe run --variant <name>` process, up to --jobs at a time, finding the
// shared stages in the cache. Separate processes give each variant a core of its own and its own TensorFlow.js
// engine; the store's per-key lock still guards against any other run building the same entry. The sweep ends
// with the records of its variants' runs, for a comparison over them (compare.ts).
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PipeError } from '../errors.js';
import { shownUrl } from '../exec/bullmq/redis-url.js';
import type { OpenedVariant } from '../exec/open-pipeline.js';
import type { PlanDocument } from '../plan/plan-document.js';
import { listRuns } from '../runs/read.js';
import type { RunRecord } from '../runs/record.js';
import { newRunId } from '../runs/write.js';
import type { Store } from '../store/open-store.js';
import type { RunEvents, RunOptions } from './options.js';
import { planOfVariants } from './plan.js';

const PIPE_BIN = fileURLToPath(new URL('../../../bin/pipe.js', import.meta.url));

/** A sweep's variant runs learn the sweep they belong to from the process that started them. */
export const SWEEP_RUN_ENV = 'PIPE_SWEEP_RUN';

/** In a variant's run: the sweep it belongs to, and whether it is a step that builds shared stages. */
export function sweepRunFromEnv(): { id?: string; shared?: boolean } {
  try {
    const value = JSON.parse(process.env[SWEEP_RUN_ENV] ?? '{}') as { id?: unknown; shared?: unknown };
    return { ...(typeof value.id === 'string' ? { id: value.id } : {}), ...(value.shared === true ? { shared: true } : {}) };
  } catch {
    return {};
  }
}

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

/** The command line of a step's `pipe run` process. */
function childArgs(o: RunOptions, step: SweepStep): string[] {
  const args = ['run', o.file, ...o.sets.flatMap((s) => ['--set', s]), ...o.sweeps.flatMap((s) => ['--sweep', s]), '--variant', step.variant];
  for (const id of step.only ?? []) args.push('--only', id);
  for (const id of step.force) args.push(`--force=${id}`);
  if (o.backend) args.push('--backend', o.backend);
  // Every run of the sweep, its shared steps included, carries the sweep's name and tags: filtering on the name
  // finds the whole sweep, and the variant is a field of its own (record.sweep.variant).
  if (o.name !== undefined) args.push('--name', o.name);
  for (const tag of o.tags) args.push('--tag', tag);
  if (o.queue) args.push('--queue', o.queue);
  // Gates judge a variant's metrics; the shared steps stop before them.
  if (!step.shared) {
    for (const gate of o.failIf) args.push('--fail-if', gate.text);
    if (o.baseline) args.push('--baseline', o.baseline);
  }
  args.push('--log-level', o.logLevel);
  return args;
}

/** Runs one step as a child process, its output passed on line by line; resolves to its exit code. */
function runStep(o: RunOptions, step: SweepStep, sweepId: string, label: string, children: Set<ReturnType<typeof spawn>>, events: RunEvents): Promise<number> {
  const child = spawn(process.execPath, [PIPE_BIN, ...childArgs(o, step)], {
    env: { ...process.env, [SWEEP_RUN_ENV]: JSON.stringify({ id: sweepId, shared: step.shared }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const forward = (from: NodeJS.ReadableStream, stream: 'stdout' | 'stderr') => {
    let rest = '';
    from.setEncoding('utf8');
    from.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) events.stepOutput?.(label, line, stream);
    });
    from.on('end', () => rest && events.stepOutput?.(label, rest, stream));
  };
  forward(child.stdout, 'stdout');
  forward(child.stderr, 'stderr');
  return new Promise((resolve) => {
    child.on('error', () => resolve(1));
    child.on('close', (code, signal) => {
      children.delete(child);
      resolve(code ?? (signal ? 130 : 1));
    });
  });
}

/** A sweep that ran: its id, the records of its steps, and its processes' exit codes. */
export interface SweepResult {
  kind: 'sweep';
  id: string;
  pipeline: string;
  variants: number;
  storeRoot: string;
  /** The runs that built shared stages. */
  shared: RunRecord[];
  /** The variants' runs, in variant order (a variant that left no record is missing). */
  runs: RunRecord[];
  /** The exit codes of the steps that ran. */
  codes: number[];
  /** Ctrl-C or SIGTERM stopped it. */
  stopped: boolean;
}

/** `--dry-run` of a sweep: the plan of every variant. */
export interface SweepPlan {
  kind: 'sweep-plan';
  plan: PlanDocument;
}

export async function runSweep(o: RunOptions, variants: OpenedVariant[], store: Store, events: RunEvents = {}): Promise<SweepResult | SweepPlan> {
  const names = variants.map((v) => v.name!);
  if (o.only.length || o.until) {
    throw new PipeError(`${o.only.length ? '--only' : '--until'} runs part of one variant, and this pipeline is swept`, {
      hint: `add --variant <name>; the variants are: ${names.join(' ')}`,
    });
  }
  if (o.dryRun) return { kind: 'sweep-plan', plan: await planOfVariants(o.file, o.sets, store, variants) };
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
  // On the queue a variant's process only submits and waits: the workers set the pace.
  const jobs = o.jobs ?? (o.queue ? variants.length : 1);
  events.sweepStarted?.({ id: sweepId, variants: names, jobs, ...(o.queue ? { queue: shownUrl(o.queue) } : {}) });

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
      const code = await runStep(o, step, sweepId, `shared: ${step.only!.join(' ')}`, children, events);
      codes.push(code);
      if (code !== 0) break;
    }
    if (!codes.some((c) => c !== 0)) {
      const pending = [...steps.variants];
      // `jobs` lanes, each running one variant's process after another.
      const lane = async () => {
        for (let step = pending.shift(); step && !stopping; step = pending.shift()) codes.push(await runStep(o, step, sweepId, step.variant, children, events));
      };
      await Promise.all(Array.from({ length: Math.min(jobs, pending.length) }, lane));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const records = (await listRuns(store.root)).filter((r) => r.sweep?.id === sweepId);
  const runs = names.map((name) => records.find((r) => !r.sweep!.shared && r.sweep!.variant === name)).filter((r): r is RunRecord => r !== undefined);
  return {
    kind: 'sweep',
    id: sweepId,
    pipeline: variants[0].plan.pipeline.name,
    variants: variants.length,
    storeRoot: store.root,
    shared: records.filter((r) => r.sweep!.shared),
    runs,
    codes,
    stopped: stopping,
  };
}
