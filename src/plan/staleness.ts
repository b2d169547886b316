// Why a stage is stale, DVC-status style: compares its key parts now with the key parts stored in the cache
// entry this stage last used (each entry's manifest keeps them), so the answer survives a renamed pipeline
// and needs no run record.
import { canonicalJson } from './canonical-json.js';
import type { KeyParts, Plan } from './plan.js';

export interface StageState {
  id: string;
  uses: string;
  key: string;
  cached: boolean;
  /** Empty when cached. */
  reasons: string[];
}

type Lookup = (key: string) => Promise<{ status: string }>;

/** An entry's manifest as far as explanations need it. */
export interface StoredEntry {
  manifest: { stage: string; meta?: Record<string, unknown> };
  lastUsedAt: string;
}

/**
 * For each stage id, the key parts of the entry most recently used by a stage of that id: of this pipeline
 * when there is one, else of any pipeline sharing the store (a renamed pipeline still finds its entries).
 */
export function previousKeyParts(entries: StoredEntry[], pipelineName: string): Map<string, KeyParts> {
  const rank = (e: StoredEntry) => `${e.manifest.meta?.pipeline === pipelineName ? 1 : 0}${e.lastUsedAt}`;
  const best = new Map<string, StoredEntry>();
  for (const entry of entries) {
    if (!entry.manifest.meta?.keyParts) continue;
    const seen = best.get(entry.manifest.stage);
    if (!seen || rank(entry) > rank(seen)) best.set(entry.manifest.stage, entry);
  }
  return new Map([...best].map(([id, e]) => [id, e.manifest.meta!.keyParts as KeyParts]));
}

export async function stageStates(plan: Plan, lookup: Lookup, previous: Map<string, KeyParts>): Promise<StageState[]> {
  const states: StageState[] = [];
  for (const id of plan.order) {
    const s = plan.stages[id];
    const cached = (await lookup(s.key)).status === 'hit';
    const reasons = cached ? [] : explain(plan, id, previous.get(id));
    states.push({ id, uses: s.uses, key: s.key, cached, reasons });
  }
  return states;
}

function explain(plan: Plan, id: string, before: KeyParts | undefined): string[] {
  if (!before) return ['never run'];
  const now = plan.stages[id].keyParts;
  const reasons: string[] = [];
  if (before.uses !== now.uses) reasons.push(`stage type changed: ${before.uses} → ${now.uses}`);
  else if (before.version !== now.version) reasons.push(`stage version changed: ${before.version} → ${now.version}`);
  else if (before.code !== now.code) reasons.push('stage code changed');
  const changed = diffValues(before.params, now.params, id);
  if (changed.length) reasons.push(`params changed: ${changed.join(', ')}`);
  for (const location of new Set([...Object.keys(before.files ?? {}), ...Object.keys(now.files)])) {
    if (before.files?.[location] !== now.files[location]) {
      const path = plan.stages[id].filePaths[location];
      reasons.push(`file changed: ${id}.${location}${path ? ` (${path})` : ''}`);
    }
  }
  for (const name of new Set([...Object.keys(before.inputs), ...Object.keys(now.inputs)])) {
    if (before.inputs[name] !== now.inputs[name]) {
      const ref = plan.stages[id].inputs[name];
      reasons.push(ref ? `input changed: ${ref.stage}` : `input removed: ${name}`);
    }
  }
  const runtime = diffValues(before.runtime, now.runtime, 'runtime');
  if (runtime.length) reasons.push(`runtime changed: ${runtime.join(', ')}`);
  if (reasons.length === 0) reasons.push('not in the cache (removed, damaged, or a different cache location)');
  return reasons;
}

function show(value: unknown): string {
  if (value === undefined) return '(unset)';
  const text = typeof value === 'string' ? value : canonicalJson(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** Flat "path old → new" differences between two JSON values. */
export function diffValues(a: unknown, b: unknown, path: string): string[] {
  if (canonicalJson(a) === canonicalJson(b)) return [];
  const bothObjects = a && b && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
  if (!bothObjects) return [`${path} ${show(a)} → ${show(b)}`];
  const out: string[] = [];
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) out.push(...diffValues(a[i], b[i], `${path}[${i}]`));
  } else {
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort()) out.push(...diffValues(ao[k], bo[k], `${path}.${k}`));
  }
  return out;
}
