// `pipe plan --json`: what a run would do, as data a CI job or a queue can fan out (the format is documented
// in docs/plan-format.md and versioned by its `format` field). Pure apart from asking the artifact cache where
// an entry is: each stage once per key, in an order where every stage comes after the stages it waits on.
import type { KeyParts, Plan } from './plan.js';
import { sha256 } from './plan.js';
import { stageStates } from './staleness.js';

export const PLAN_FORMAT = 'pipe-plan/1';

/** The tiers of the artifact cache an entry can be found in. */
export type CacheTier = 'local' | 'remote';

/** Where the artifact cache holds an entry, without fetching it (undefined: in no tier). */
export interface CacheLocator {
  locate(key: string): Promise<CacheTier | undefined>;
}

export type PlanStageState = 'cached-local' | 'cached-remote' | 'stale';

export interface PlanStage {
  /** The stage id in the pipeline. In a sweep, variants that differ in a stage have one entry each, same id. */
  id: string;
  /** The stage type's declared name (e.g. train). */
  type: string;
  key: string;
  state: PlanStageState;
  /** Why it is stale ("params changed: train.epochs 6 → 1", "never run", ...); empty when cached. */
  reasons: string[];
  /** Ids of the stages it waits on. */
  needs: string[];
  /** Keys of the stages it waits on (unambiguous in a sweep). */
  needsKeys: string[];
  /** Labels a machine must have to run it (`runs-on:`); empty: any machine. */
  runsOn: string[];
  /** Sweeps only: the variants this entry belongs to. */
  variants?: string[];
}

export interface PlanVariant {
  name: string;
  /** `--set` texts that make the variant out of the pipeline (after the run's own --set). */
  sets: string[];
  /** stage id -> key */
  stages: Record<string, string>;
}

export interface PlanDocument {
  format: typeof PLAN_FORMAT;
  pipeline: {
    name: string;
    /** As given on the command line. */
    file: string;
    /** sha256 of the pipeline file's bytes. */
    key: string;
    /** The --set texts the plan was made with; a job that runs it must pass the same. */
    sets: string[];
  };
  /** Sweeps only: one entry per variant. */
  variants?: PlanVariant[];
  stages: PlanStage[];
  summary: { stages: number; stale: number; cachedLocal: number; cachedRemote: number };
}

/** The key of a pipeline file: the digest of its bytes. A job carries it; a worker checks it. */
export function pipelineKey(text: string | Uint8Array): string {
  return sha256(text);
}

export interface PlannedVariant {
  /** Absent when the run is not a sweep. */
  name?: string;
  sets: string[];
  plan: Plan;
  /** stage id -> `runs-on` labels */
  runsOn: Record<string, string[] | undefined>;
  /** Each stage's key parts at its last recorded run, to say why it is stale. */
  previous: Map<string, KeyParts>;
}

export async function planDocument(
  pipeline: PlanDocument['pipeline'],
  variants: PlannedVariant[],
  cache: CacheLocator,
): Promise<PlanDocument> {
  const tiers = new Map<string, CacheTier | undefined>();
  const byKey = new Map<string, PlanStage>();
  const sweep = variants.some((v) => v.name !== undefined);
  for (const variant of variants) {
    const { plan } = variant;
    for (const id of plan.order) {
      const key = plan.stages[id].key;
      if (!tiers.has(key)) tiers.set(key, await cache.locate(key));
    }
    const states = await stageStates(plan, async (key) => ({ status: tiers.get(key) ? 'hit' : 'miss' }), variant.previous);
    for (const s of states) {
      const known = byKey.get(s.key);
      if (known) {
        if (sweep) known.variants!.push(variant.name!);
        continue;
      }
      const planned = plan.stages[s.id];
      const tier = tiers.get(s.key);
      byKey.set(s.key, {
        id: s.id,
        type: planned.stage.name,
        key: s.key,
        state: tier === 'local' ? 'cached-local' : tier === 'remote' ? 'cached-remote' : 'stale',
        reasons: s.reasons,
        needs: planned.upstream,
        needsKeys: planned.upstream.map((u) => plan.stages[u].key),
        runsOn: variant.runsOn[s.id] ?? [],
        ...(sweep ? { variants: [variant.name!] } : {}),
      });
    }
  }
  const stages = [...byKey.values()];
  const count = (state: PlanStageState) => stages.filter((s) => s.state === state).length;
  return {
    format: PLAN_FORMAT,
    pipeline,
    ...(sweep
      ? {
          variants: variants.map((v) => ({
            name: v.name!,
            sets: v.sets,
            stages: Object.fromEntries(v.plan.order.map((id) => [id, v.plan.stages[id].key])),
          })),
        }
      : {}),
    stages,
    summary: { stages: stages.length, stale: count('stale'), cachedLocal: count('cached-local'), cachedRemote: count('cached-remote') },
  };
}
