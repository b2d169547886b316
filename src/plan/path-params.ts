// Finds the params a stage's schema marks as paths it reads (`"x-pipe-path": "file" | "dir"`), so the core can
// hash their content into the cache key instead of the path string (paths differ between machines, content does not).
import type { JsonSchema } from '../stage.js';

export interface PathParam {
  /** Location inside params, e.g. ["path"] or ["sources", 0, "file"]. */
  at: (string | number)[];
  kind: 'file' | 'dir';
  value: string;
}

export function findPathParams(schema: JsonSchema | undefined, value: unknown, at: (string | number)[] = []): PathParam[] {
  if (!schema || value === undefined || value === null) return [];
  const kind = schema['x-pipe-path'];
  if ((kind === 'file' || kind === 'dir') && typeof value === 'string') return [{ at, kind, value }];
  const found: PathParam[] = [];
  for (const keyword of ['allOf', 'anyOf', 'oneOf'] as const) {
    const subs = schema[keyword];
    if (Array.isArray(subs)) for (const sub of subs) found.push(...findPathParams(sub as JsonSchema, value, at));
  }
  if (Array.isArray(value)) {
    const items = schema.items as JsonSchema | undefined;
    value.forEach((v, i) => found.push(...findPathParams(items, v, [...at, i])));
  } else if (typeof value === 'object') {
    const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const sub = props[k] ?? (typeof schema.additionalProperties === 'object' ? (schema.additionalProperties as JsonSchema) : undefined);
      found.push(...findPathParams(sub, v, [...at, k]));
    }
  }
  // The same location can be reached through several subschemas; keep one.
  const seen = new Set<string>();
  return found.filter((p) => {
    const id = JSON.stringify(p.at);
    return seen.has(id) ? false : (seen.add(id), true);
  });
}

/** A copy of params with the value at each location replaced. */
export function replaceAt(params: Record<string, unknown>, replacements: { at: (string | number)[]; value: unknown }[]): Record<string, unknown> {
  const copy = structuredClone(params);
  for (const { at, value } of replacements) {
    let node: any = copy;
    for (let i = 0; i < at.length - 1; i++) node = node[at[i]];
    node[at[at.length - 1]] = value;
  }
  return copy;
}
