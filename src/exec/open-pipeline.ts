// What every command and executor that acts on a pipeline starts with: load and validate it, open its store, resolve its backend
// (once: keys, records and stages all take this answer), plan it.
import { PipeError } from '../errors.js';
import { loadPipeline } from '../config/load.js';
import type { LoadedPipeline, LoadOptions } from '../config/types.js';
import { planPipeline, type Plan, type PipelineForPlan } from '../plan/plan.js';
import { runtimeFactsFor } from '../plan/runtime-facts.js';
import { openStore, type Store, type StoreOptions } from '../store/open-store.js';
import { resolveBackend, type BackendRequest } from '../tf/backend.js';

export function toPlanInput(loaded: LoadedPipeline, backend?: string): PipelineForPlan {
  const requested = (backend ?? loaded.spec.backend) as BackendRequest;
  return {
    file: loaded.file,
    dir: loaded.dir,
    name: loaded.spec.name,
    seed: loaded.spec.seed,
    backend: { requested, resolved: resolveBackend(requested) },
    stages: loaded.stages,
    // Point at the file only when the value there is the one in use (not replaced by --set).
    errorAt: (path, message, hint) => {
      const inFile = loaded.source.has(path) ? (loaded.source.doc.getIn(path) as unknown) : undefined;
      const inUse = path.slice(3).reduce<any>((node, key) => node?.[key], loaded.stages[path[1] as string]?.params);
      return inFile !== undefined && inFile === inUse ? loaded.source.errorAt(message, path, 'value', { hint }) : undefined;
    },
  };
}

export interface OpenedPipeline {
  loaded: LoadedPipeline;
  store: Store;
  plan: Plan;
}

export async function openPipeline(
  file: string,
  options: { sets?: string[]; backend?: string; store?: Omit<StoreOptions, 'pipeline'>; beforeImport?: LoadOptions['beforeImport'] } = {},
): Promise<OpenedPipeline> {
  const loaded = await loadPipeline(file, { sets: options.sets, beforeImport: options.beforeImport });
  const store = await openStore({ ...options.store, pipeline: loaded.cacheSettings });
  return { loaded, store, plan: await planLoaded(loaded, store, options.backend) };
}

async function planLoaded(loaded: LoadedPipeline, store: Store, backend?: string): Promise<Plan> {
  const input = toPlanInput(loaded, backend);
  return planPipeline(input, store.hasher, runtimeFactsFor(input));
}

export interface OpenedVariant extends OpenedPipeline {
  /** Absent when the pipeline is not swept. */
  name?: string;
  /** The variant's own `--set` texts (after the command's). */
  sets: string[];
  /** Swept path -> value. */
  values: Record<string, unknown>;
}

/**
 * The pipeline, or each variant of its sweep (the file's `sweep:` block and `--sweep` flags, cross product),
 * loaded, checked and planned. All variants share the store of the pipeline as given.
 */
export async function openVariants(
  file: string,
  options: { sets?: string[]; sweeps?: string[]; backend?: string; variant?: string } = {},
): Promise<{ store: Store; variants: OpenedVariant[] }> {
  const base = await openPipeline(file, options);
  const { axesOfBlock, expandSweep, parseSweepFlag } = await import('../config/sweep.js');
  const expanded = expandSweep([...axesOfBlock(base.loaded.spec.sweep), ...(options.sweeps ?? []).map(parseSweepFlag)]);
  if (expanded.length === 0) {
    if (options.variant !== undefined) throw new PipeError(`--variant ${options.variant}: the pipeline has no sweep`, { hint: 'add a sweep: block, or --sweep path=[a,b]' });
    return { store: base.store, variants: [{ ...base, sets: [], values: {} }] };
  }
  const chosen = options.variant === undefined ? expanded : expanded.filter((v) => v.name === options.variant);
  if (chosen.length === 0) {
    throw new PipeError(`--variant ${options.variant}: no such variant`, { hint: `the variants are: ${expanded.map((v) => v.name).join(' ')}` });
  }
  const variants: OpenedVariant[] = [];
  for (const v of chosen) {
    const loaded = await loadPipeline(file, { sets: [...(options.sets ?? []), ...v.sets] });
    const plan = await planLoaded(loaded, base.store, options.backend);
    variants.push({ loaded, plan, store: base.store, name: v.name, sets: v.sets, values: v.values });
  }
  return { store: base.store, variants };
}

/**
 * The cache keys a pipeline uses now: what `pipe cache gc` must keep. When the pipeline is valid but cannot be
 * planned here (an input file it reads is missing, e.g. a dataset not downloaded in this checkout), its name
 * and why instead, so that the caller can keep what that pipeline made. An invalid pipeline throws.
 */
export async function planKeys(
  pipelineFile: string,
  storeOptions?: Omit<StoreOptions, 'pipeline'>,
): Promise<Set<string> | { pipeline: string; problem: string }> {
  const loaded = await loadPipeline(pipelineFile);
  const store = await openStore({ ...storeOptions, pipeline: loaded.cacheSettings });
  const input = toPlanInput(loaded);
  try {
    const plan = await planPipeline(input, store.hasher, runtimeFactsFor(input));
    return new Set(plan.order.map((id) => plan.stages[id].key));
  } catch (err) {
    if (!(err instanceof PipeError)) throw err;
    return { pipeline: loaded.spec.name, problem: err.message };
  }
}
