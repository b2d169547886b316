// Small readers for JSON written by other stages: tolerant of field-name variants (camelCase, snake_case, Keras
// names) so that a report degrades to "not shown" instead of failing when a producer renames a field.

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The first of `names` that holds a finite number. */
export function numberField(obj: Json, ...names: string[]): number | undefined {
  for (const name of names) {
    const v = obj[name];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
  }
  return undefined;
}

export function stringField(obj: Json, ...names: string[]): string | undefined {
  for (const name of names) {
    const v = obj[name];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

export function field(obj: Json, ...names: string[]): unknown {
  for (const name of names) if (obj[name] !== undefined) return obj[name];
  return undefined;
}
