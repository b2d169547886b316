// Random over- and under-sampling of an image dataset, split by split, as row-index plans (pure: no I/O) made
// from the labels and split codes alone, so the stages choose rows without the pixels and then copy them over a
// batch at a time (`copyRows`).
//
// Over-sampling does what imbalanced-learn's RandomOverSampler does: every original row is kept in place and,
// class by class, (wanted − current) rows drawn uniformly WITH replacement from that class are appended as copies.
// The copies are appended in the order of the rows they copy (not the order they were drawn in), so that writing
// them reads the input's batches once more in file order rather than one batch per copy; training shuffles its
// rows every epoch, and no count or report depends on the order.
// Under-sampling (RandomUnderSampler) keeps `wanted` rows of each selected class drawn WITHOUT replacement; kept
// rows stay in their original order (imbalanced-learn groups them by class; order carries no meaning for training).
import { PipeError } from '../errors.js';
import type { ImageDataset } from './image-dataset.js';
import { createRandom } from './random.js';
import { targetCounts, type SamplerKind, type SamplingStrategy } from './sampling-strategy.js';

/** `'all'` resamples the whole dataset as one pool, ignoring the split column. */
export type SplitSelection = string[] | 'all';

export interface ResampleOptions {
  kind: SamplerKind;
  strategy: SamplingStrategy;
  splits: SplitSelection;
  seed: number;
}

/** Rows per class name, per resampled group (a split name, or "all"). */
export type CountsByGroup = Record<string, Record<string, number>>;

export interface ResamplePlan {
  /**
   * Source row indices of the result, in order: every row kept, in file order, then (over-sampling) the copies,
   * in the order of the rows they copy.
   */
  rows: Uint32Array;
  before: CountsByGroup;
  after: CountsByGroup;
  /** Rows appended (over) or removed (under), over all groups. */
  changed: number;
}

type DatasetView = Pick<ImageDataset, 'labels' | 'splitCodes' | 'splitNames' | 'classes'>;

function groupsOf(ds: DatasetView, splits: SplitSelection): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  if (splits === 'all') {
    groups.set('all', Array.from({ length: ds.labels.length }, (_, i) => i));
    return groups;
  }
  const codes = new Map<number, string>();
  for (const name of splits) {
    const code = ds.splitNames.indexOf(name);
    if (code < 0) {
      throw new PipeError(`split '${name}' is not in the dataset`, {
        hint: `the dataset's splits are: ${ds.splitNames.map((s) => `'${s}'`).join(', ') || '(none)'}; ` +
          "name existing ones in `splits:`, or use `splits: all` to resample every row ignoring splits",
      });
    }
    codes.set(code, name);
    groups.set(name, []);
  }
  for (let i = 0; i < ds.labels.length; i++) {
    const name = codes.get(ds.splitCodes[i]);
    if (name !== undefined) groups.get(name)!.push(i);
  }
  return groups;
}

function byClass(ds: DatasetView, rows: number[]): number[][] {
  const out: number[][] = ds.classes.map(() => []);
  for (const i of rows) {
    const k = ds.labels[i];
    if (k >= out.length) throw new PipeError(`row ${i} has label ${k}, but the dataset has only ${out.length} classes`);
    out[k].push(i);
  }
  return out;
}

function named(classes: string[], counts: number[]): Record<string, number> {
  return Object.fromEntries(classes.map((c, k) => [c, counts[k]]));
}

export function planResample(ds: DatasetView, options: ResampleOptions): ResamplePlan {
  const random = createRandom(options.seed);
  const before: CountsByGroup = {};
  const after: CountsByGroup = {};
  const n = ds.labels.length;
  const appended: number[] = [];
  const keep = new Uint8Array(n).fill(1);
  let changed = 0;
  for (const [group, rows] of groupsOf(ds, options.splits)) {
    const members = byClass(ds, rows);
    const counts = members.map((m) => m.length);
    const wanted = targetCounts(counts, ds.classes, options.strategy, options.kind, `split '${group}'`);
    before[group] = named(ds.classes, counts);
    after[group] = named(ds.classes, wanted);
    for (let k = 0; k < members.length; k++) {
      const pool = members[k];
      if (options.kind === 'over') {
        for (let j = counts[k]; j < wanted[k]; j++) appended.push(pool[random.int(pool.length)]);
        changed += wanted[k] - counts[k];
      } else if (wanted[k] < counts[k]) {
        // Partial Fisher–Yates: the first wanted[k] entries become a uniform sample without replacement.
        const order = pool.slice();
        for (let j = 0; j < wanted[k]; j++) {
          const r = j + random.int(order.length - j);
          const t = order[j];
          order[j] = order[r];
          order[r] = t;
        }
        for (let j = wanted[k]; j < order.length; j++) keep[order[j]] = 0;
        changed += counts[k] - wanted[k];
      }
    }
  }
  let rows: Uint32Array;
  if (options.kind === 'over') {
    rows = new Uint32Array(n + appended.length);
    for (let i = 0; i < n; i++) rows[i] = i;
    rows.set(appended, n);
    // In file order (see the top of this file): the same copies as drawn.
    rows.subarray(n).sort();
  } else {
    const kept: number[] = [];
    for (let i = 0; i < n; i++) if (keep[i]) kept.push(i);
    rows = Uint32Array.from(kept);
  }
  return { rows, before, after, changed };
}
