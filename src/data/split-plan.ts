// Pure planning for the split stage: rename existing splits, or divide rows into new splits by fractions,
// stratified by class (each class is divided in the same proportions) with exact, seeded counts.
import { PipeError } from '../errors.js';
import { createRandom } from './random.js';

export interface SplitAssignment {
  splitNames: string[];
  splitCodes: Int8Array;
}

/** Renames split values through `map`; a value the map lacks is an error listing every such value. */
export function mapSplits(splitNames: string[], splitCodes: Int8Array, map: Record<string, string>): SplitAssignment {
  const present = new Set<number>(splitCodes);
  const unmapped = splitNames.filter((name, code) => present.has(code) && !(name in map));
  if (unmapped.length > 0) {
    throw new PipeError(`split map has no entry for ${unmapped.map((n) => `'${n}'`).join(', ')}`, {
      hint: `the data's split values are ${splitNames.filter((_, c) => present.has(c)).join(', ')}; add each to map (e.g. ${unmapped
        .map((n) => `${n}: ${n.toLowerCase()}`)
        .join(', ')}), or use fractions to make new splits`,
    });
  }
  const names: string[] = [];
  const codeOf = splitNames.map((name) => {
    const target = map[name];
    if (target === undefined) return -1;
    let code = names.indexOf(target);
    if (code < 0) code = names.push(target) - 1;
    return code;
  });
  const codes = new Int8Array(splitCodes.length);
  for (let i = 0; i < codes.length; i++) codes[i] = codeOf[splitCodes[i]];
  return { splitNames: names, splitCodes: codes };
}

/** Validates fractions: positive and summing to 1 (within 1e-6). */
export function checkFractions(fractions: Record<string, number>): void {
  const entries = Object.entries(fractions);
  if (entries.length === 0) throw new PipeError('fractions is empty', { hint: 'e.g. fractions: { train: 0.8, validation: 0.1, test: 0.1 }' });
  const total = entries.reduce((sum, [, f]) => sum + f, 0);
  if (Math.abs(total - 1) > 1e-6) {
    throw new PipeError(`fractions add up to ${Number(total.toFixed(6))}, not 1`, {
      hint: `e.g. ${entries.map(([n, f]) => `${n}: ${Number((f / total).toFixed(4))}`).join(', ')}`,
    });
  }
}

/**
 * How many of `n` rows go to each split: floor(n * f), then the rows left over go one each to the splits with the
 * largest remainders (ties: earlier split first). The counts add up to n exactly.
 */
export function quotas(n: number, fractions: number[]): number[] {
  const exact = fractions.map((f) => n * f);
  const counts = exact.map((x) => Math.floor(x));
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) counts[order[k][1]]++;
  return counts;
}

export interface FractionSplitOptions {
  labels: Uint8Array;
  classCount: number;
  splitNames: string[];
  splitCodes: Int8Array;
  fractions: Record<string, number>;
  /** Existing splits whose rows are divided; rows of other splits keep their split. Undefined: every row. */
  from?: string[];
  seed: number;
}

/**
 * New split codes: within each class, the rows to divide are shuffled with a seeded generator (one stream per class,
 * so a class's assignment does not depend on the others) and cut into consecutive runs of quotas() rows.
 */
export function fractionSplits(o: FractionSplitOptions): SplitAssignment {
  checkFractions(o.fractions);
  const targets = Object.keys(o.fractions);
  const shares = Object.values(o.fractions);
  const present = new Set<number>(o.splitCodes);
  const presentNames = o.splitNames.filter((_, c) => present.has(c));
  if (o.from) {
    const missing = o.from.filter((n) => !presentNames.includes(n));
    if (missing.length > 0) {
      throw new PipeError(`from names split ${missing.map((n) => `'${n}'`).join(', ')} that the data lacks`, {
        hint: `the data's split values are ${presentNames.join(', ')}`,
      });
    }
  }
  const divided = new Set(o.from ?? presentNames);
  const names = targets.slice();
  const keptCode = o.splitNames.map((name) => {
    if (divided.has(name)) return -1;
    let code = names.indexOf(name);
    if (code < 0) code = names.push(name) - 1;
    return code;
  });
  if (names.length > 127) throw new PipeError(`too many splits (${names.length}); at most 127`);
  const codes = new Int8Array(o.labels.length);
  const byClass: number[][] = Array.from({ length: o.classCount }, () => []);
  for (let i = 0; i < codes.length; i++) {
    const kept = keptCode[o.splitCodes[i]];
    if (kept >= 0) codes[i] = kept;
    else byClass[o.labels[i]].push(i);
  }
  byClass.forEach((rows, k) => {
    createRandom(o.seed, k).shuffle(rows);
    const counts = quotas(rows.length, shares);
    let at = 0;
    counts.forEach((count, s) => {
      for (let j = 0; j < count; j++) codes[rows[at++]] = s;
    });
  });
  return { splitNames: names, splitCodes: codes };
}

/** Number of distinct source rows whose copies sit in more than one split (the oversample-before-split leak). */
export function sourcesInSeveralSplits(source: Uint32Array, splitCodes: Int8Array): number {
  const first = new Map<number, number>();
  const shared = new Set<number>();
  for (let i = 0; i < source.length; i++) {
    const s = source[i];
    const code = splitCodes[i];
    const seen = first.get(s);
    if (seen === undefined) first.set(s, code);
    else if (seen !== code) shared.add(s);
  }
  return shared.size;
}
