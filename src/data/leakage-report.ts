// Turns groups of identical images into a leakage report: for every pair of splits (a split with itself, and each
// two different splits) how many groups of identical images they share, how many rows those groups hold in each
// split, how many carry conflicting labels, and a few examples to look at. Its format, leakage.json, is
// src/formats/leakage.ts.
import type { LeakageReport, SplitPairFindings } from '../formats/leakage.js';
import type { ImageDataset } from './image-dataset.js';

export const EXAMPLES_PER_PAIR = 5;
const ROWS_PER_EXAMPLE = 6;

/** Key for a split pair in summaries: "train" for within-train, "train×test" across. */
export function pairName(p: Pick<SplitPairFindings, 'splits'>): string {
  return p.splits[0] === p.splits[1] ? p.splits[0] : `${p.splits[0]}×${p.splits[1]}`;
}

export function buildLeakageReport(
  ds: Pick<ImageDataset, 'labels' | 'splitCodes' | 'splitNames' | 'classes' | 'source'>,
  groups: number[][],
): LeakageReport {
  const splits = ds.splitNames;
  const rowsPerSplit: Record<string, number> = Object.fromEntries(splits.map((s) => [s, 0]));
  for (let i = 0; i < ds.splitCodes.length; i++) rowsPerSplit[splits[ds.splitCodes[i]]]++;

  const pairs: SplitPairFindings[] = [];
  const pairIndex = new Map<string, SplitPairFindings>();
  for (let a = 0; a < splits.length; a++) {
    for (let b = a; b < splits.length; b++) {
      const p: SplitPairFindings = {
        splits: [splits[a], splits[b]],
        kind: a === b ? 'within' : 'cross',
        groups: 0,
        rows: a === b ? { [splits[a]]: 0 } : { [splits[a]]: 0, [splits[b]]: 0 },
        labelConflicts: 0,
        sameSourceGroups: 0,
        examples: [],
      };
      pairs.push(p);
      pairIndex.set(`${a},${b}`, p);
    }
  }

  let rowsInDuplicateGroups = 0;
  let labelConflictGroups = 0;
  let crossSplitGroups = 0;
  for (const group of groups) {
    rowsInDuplicateGroups += group.length;
    if (new Set(group.map((r) => ds.labels[r])).size > 1) labelConflictGroups++;
    const bySplit = new Map<number, number[]>();
    for (const r of group) {
      const code = ds.splitCodes[r];
      const list = bySplit.get(code);
      if (list) list.push(r);
      else bySplit.set(code, [r]);
    }
    if (bySplit.size > 1) crossSplitGroups++;
    const codes = [...bySplit.keys()].sort((x, y) => x - y);
    for (let i = 0; i < codes.length; i++) {
      for (let j = i; j < codes.length; j++) {
        const a = codes[i];
        const b = codes[j];
        const rowsA = bySplit.get(a)!;
        if (a === b && rowsA.length < 2) continue;
        const members = a === b ? rowsA : [...rowsA, ...bySplit.get(b)!];
        const p = pairIndex.get(`${a},${b}`)!;
        p.groups++;
        p.rows[splits[a]] += rowsA.length;
        if (a !== b) p.rows[splits[b]] += bySplit.get(b)!.length;
        const conflict = new Set(members.map((r) => ds.labels[r])).size > 1;
        if (conflict) p.labelConflicts++;
        if (new Set(members.map((r) => ds.source[r])).size === 1) p.sameSourceGroups++;
        if (p.examples.length < EXAMPLES_PER_PAIR) {
          p.examples.push({
            rows: members.slice(0, ROWS_PER_EXAMPLE).map((r) => ({
              row: r,
              source: ds.source[r],
              split: splits[ds.splitCodes[r]],
              label: ds.classes[ds.labels[r]] ?? String(ds.labels[r]),
            })),
            size: members.length,
            labelConflict: conflict,
          });
        }
      }
    }
  }
  return {
    rows: ds.labels.length,
    rowsPerSplit,
    duplicateGroups: groups.length,
    rowsInDuplicateGroups,
    labelConflictGroups,
    crossSplitGroups,
    pairs,
  };
}

/** For every cross pair, how many rows of each of its splits have a direct match in the other (see matchedRows). */
export function addMatchedRows(report: LeakageReport, ds: Pick<ImageDataset, 'splitCodes' | 'splitNames'>, pairs: Array<[number, number]>): void {
  const matched = new Map<string, Set<number>>();
  for (const [i, j] of pairs) {
    const a = ds.splitCodes[i];
    const b = ds.splitCodes[j];
    if (a === b) continue;
    for (const [row, other] of [[i, b], [j, a]]) {
      const key = `${ds.splitCodes[row]},${other}`;
      let set = matched.get(key);
      if (!set) matched.set(key, (set = new Set()));
      set.add(row);
    }
  }
  for (const p of report.pairs) {
    if (p.kind !== 'cross') continue;
    const [a, b] = p.splits.map((name) => ds.splitNames.indexOf(name));
    p.matchedRows = { [p.splits[0]]: matched.get(`${a},${b}`)?.size ?? 0, [p.splits[1]]: matched.get(`${b},${a}`)?.size ?? 0 };
  }
}
