// Shared by the commands that act on a pipeline: load and validate it, open its store, resolve its backend
// (once: keys, records and stages all take this answer), plan it.
import { loadPipeline } from '../config/load.js';
import type { LoadedPipeline } from '../config/types.js';
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
  options: { sets?: string[]; backend?: string; store?: Omit<StoreOptions, 'pipeline'> } = {},
): Promise<OpenedPipeline> {
  const loaded = await loadPipeline(file, { sets: options.sets });
  const store = await openStore({ ...options.store, pipeline: loaded.cacheSettings });
  const input = toPlanInput(loaded, options.backend);
  const plan = await planPipeline(input, store.hasher, runtimeFactsFor(input));
  return { loaded, store, plan };
}

/** The cache keys a pipeline uses now: what `pipe cache gc` must keep. */
export async function planKeys(pipelineFile: string, storeOptions?: Omit<StoreOptions, 'pipeline'>): Promise<Set<string>> {
  const { plan } = await openPipeline(pipelineFile, { store: storeOptions });
  return new Set(plan.order.map((id) => plan.stages[id].key));
}
