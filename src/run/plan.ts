// What `pipe plan` shows, and `pipe run --dry-run` of a sweep: the plan document ("pipe-plan/1",
// docs/plan-format.md) of a pipeline's variants, each stage cached (which tier) or stale and why.
import { relative } from 'node:path';
import { openVariants, type OpenedVariant } from '../exec/open-pipeline.js';
import { planDocument, pipelineKey, type PlanDocument } from '../plan/plan-document.js';
import { previousKeyParts } from '../plan/staleness.js';
import type { Store } from '../store/open-store.js';

export async function planOf(file: string, options: { sets: string[]; sweeps: string[]; variant?: string; backend?: string }): Promise<PlanDocument> {
  const { store, variants } = await openVariants(file, options);
  return planOfVariants(file, options.sets, store, variants);
}

/** The plan of variants already opened (`sets`: the command's --set texts, before each variant's). */
export async function planOfVariants(file: string, sets: string[], store: Store, variants: OpenedVariant[]): Promise<PlanDocument> {
  const manifests = await store.cache.local.manifests();
  const first = variants[0].loaded;
  return planDocument(
    { name: first.spec.name, file: relative(process.cwd(), first.file) || file, key: pipelineKey(first.source.text), sets },
    variants.map((v) => ({
      name: v.name,
      sets: v.sets,
      plan: v.plan,
      runsOn: Object.fromEntries(Object.entries(v.loaded.spec.stages).map(([id, s]) => [id, s['runs-on']])),
      previous: previousKeyParts(manifests, v.plan.pipeline.name),
    })),
    // The artifact cache says which tier holds an entry: 'remote' for what only a remote tier holds.
    store.cache,
  );
}
