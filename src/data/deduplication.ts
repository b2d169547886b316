// Which rows the deduplicate stage removes, and what it reports (deduplication.json, whose format is
// src/formats/deduplication.ts). Groups of copies come from the leakage check's finders (exact:
// src/data/duplicates.ts, near: src/data/near-duplicates.ts), so "a copy" means the same thing in both stages.
//
// The rule: `from` lists the splits copies are removed from, the first losing first. A row is removed when its
// group holds a row of a split that outranks its own: a later split of `from`, or any split not in `from`
// (those lose nothing). With from [train], every training image that has a copy in validation or test goes;
// with from [train, validation], validation also gives up its copies of test images. With `withinSplit`, a
// group's rows in one split of `from` are also merged into its first one.
import type { DeduplicationReport, RemovedExample } from '../formats/deduplication.js';
import type { ImageDataset } from './image-dataset.js';

/** Examples kept per pair of splits, each a removed row beside the copy that outranked it. */
export const EXAMPLES_PER_PAIR = 6;

export interface DeduplicationPlan {
  /** Rows kept, ascending. */
  kept: Uint32Array;
  report: Omit<DeduplicationReport, 'format' | 'match'>;
}

/** The rows to keep and what was removed, from groups of copies (row indices, each group of two rows or more). */
export function planDeduplication(
  ds: Pick<ImageDataset, 'labels' | 'splitCodes' | 'splitNames' | 'classes'>,
  groups: number[][],
  from: string[],
  withinSplit: boolean,
): DeduplicationPlan {
  const n = ds.labels.length;
  // Rank by split code: a split's place in `from`, or Infinity for splits that lose nothing.
  const rank = ds.splitNames.map((name) => {
    const k = from.indexOf(name);
    return k < 0 ? Infinity : k;
  });
  const removed = new Uint8Array(n);
  const removedBySplit: Record<string, number> = {};
  const removedByPair: Record<string, number> = {};
  const mergedBySplit: Record<string, number> = {};
  const examples: Record<string, RemovedExample[]> = {};
  const describe = (row: number) => ({ row, split: ds.splitNames[ds.splitCodes[row]], label: ds.classes[ds.labels[row]] ?? String(ds.labels[row]) });
  const count = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);

  for (const group of groups) {
    for (const row of group) {
      const own = rank[ds.splitCodes[row]];
      if (own === Infinity) continue;
      // The first row of the group in the highest-ranked split that outranks this one.
      let winner = -1;
      for (const other of group) {
        const r = rank[ds.splitCodes[other]];
        if (r > own && (winner < 0 || r > rank[ds.splitCodes[winner]])) winner = other;
      }
      if (winner < 0) continue;
      removed[row] = 1;
      const split = ds.splitNames[ds.splitCodes[row]];
      const pair = `${split} × ${ds.splitNames[ds.splitCodes[winner]]}`;
      count(removedBySplit, split);
      count(removedByPair, pair);
      const list = (examples[pair] ??= []);
      if (list.length < EXAMPLES_PER_PAIR) list.push({ removed: describe(row), kept: describe(winner) });
    }
    if (!withinSplit) continue;
    // Copies left within one split of `from`: the first stays.
    const firstOfSplit = new Map<number, number>();
    for (const row of group) {
      if (removed[row] || rank[ds.splitCodes[row]] === Infinity) continue;
      const code = ds.splitCodes[row];
      if (!firstOfSplit.has(code)) {
        firstOfSplit.set(code, row);
        continue;
      }
      removed[row] = 1;
      count(mergedBySplit, ds.splitNames[code]);
    }
  }

  const kept: number[] = [];
  for (let i = 0; i < n; i++) if (!removed[i]) kept.push(i);
  return {
    kept: Uint32Array.from(kept),
    report: { from, withinSplit, rowsBefore: n, rowsAfter: kept.length, removedBySplit, removedByPair, mergedBySplit, examples },
  };
}
