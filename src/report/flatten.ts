// Nested params as flat "path = value" pairs: `epochs`, `layers[2].conv2d.filters`, `strategy.disgust`.
// Used to show a stage's params compactly and to find the params that differ between runs.

export type Leaf = string | number | boolean | null;

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

function childPath(prefix: string, key: string): string {
  if (IDENTIFIER.test(key)) return prefix ? `${prefix}.${key}` : key;
  return `${prefix}[${JSON.stringify(key)}]`;
}

const isPrimitive = (v: unknown): boolean => v === null || ['string', 'number', 'boolean'].includes(typeof v);

/**
 * Leaves of `value` by path. Arrays of plain values are one leaf (`splits = [train, validation]`, shown as text);
 * arrays of objects are walked by index. Empty arrays and objects are leaves ([] and {}).
 */
export function flattenParams(value: unknown, prefix = ''): Map<string, Leaf> {
  const out = new Map<string, Leaf>();
  const walk = (v: unknown, path: string) => {
    if (Array.isArray(v) && v.length > 0 && v.every(isPrimitive)) {
      out.set(path, `[${v.map((x) => leafText(x)).join(', ')}]`);
    } else if (Array.isArray(v)) {
      if (v.length === 0) out.set(path, '[]');
      v.forEach((item, i) => walk(item, `${path}[${i}]`));
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
      if (entries.length === 0) out.set(path, '{}');
      for (const [k, x] of entries) walk(x, childPath(path, k));
    } else if (v !== undefined) {
      out.set(path, v as Leaf);
    }
  };
  walk(value, prefix);
  return out;
}

/** A leaf as a person reads it: strings bare, everything else as JSON. */
export function leafText(value: unknown): string {
  if (value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
