// Shared by the commands that act on a pipeline: load and validate it, find its artifact store, plan it.
import { loadPipeline } from '../config/load.js';
import type { LoadedPipeline } from '../config/types.js';
import { planPipeline, type Plan, type PipelineForPlan } from '../plan/plan.js';
import { runtimeFactsFor } from '../plan/runtime-facts.js';
import { resolveStoreRoot } from '../store/root.js';
import { ArtifactStore } from '../store/store.js';

/** The store a pipeline's artifacts live in (see src/store/root.ts for the order of precedence). */
export function storeRootFor(loaded?: LoadedPipeline): string {
  return resolveStoreRoot(undefined, loaded?.cacheDir);
}

export function toPlanInput(loaded: LoadedPipeline, backend?: string): PipelineForPlan {
  return {
    file: loaded.file,
    dir: loaded.dir,
    name: loaded.spec.name,
    seed: loaded.spec.seed,
    backend: backend ?? loaded.spec.backend,
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
  store: ArtifactStore;
  plan: Plan;
}

export async function openPipeline(file: string, options: { sets?: string[]; backend?: string } = {}): Promise<OpenedPipeline> {
  const loaded = await loadPipeline(file, { sets: options.sets });
  const store = new ArtifactStore(storeRootFor(loaded));
  const input = toPlanInput(loaded, options.backend);
  const plan = await planPipeline(input, store, runtimeFactsFor(input.seed, input.backend));
  return { loaded, store, plan };
}
