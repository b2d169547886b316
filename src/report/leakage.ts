// The leakage-check stage's leakage.json as a verdict, duplicate counts per pair of splits, label conflicts and
// a few examples. Tolerant of shapes: pairs as an array of {a, b, duplicates} (or {splits: [a, b], count}) or as
// an object keyed "train/test"; label conflicts as a number or a list.
import { field, isObject, numberField, stringField, type Json } from './json-fields.js';

export interface SplitPairDuplicates {
  a: string;
  b: string;
  /** Rows of one split whose image also occurs in the other. */
  duplicates: number;
}

export interface LeakageView {
  pairs: SplitPairDuplicates[];
  /** Duplicates inside one split (harmless for honesty, but inflate its weight). */
  withinSplit: { split: string; duplicates: number }[];
  /** Identical images that carry different labels. */
  labelConflicts?: number;
  /** Total of `pairs`: > 0 means test or validation images were also trained on. */
  crossSplitDuplicates: number;
  /** How duplicates were found (e.g. "exact pixel hash"), when the file says. */
  method?: string;
  examples: Json[];
}

function pairFrom(value: unknown, key?: string): SplitPairDuplicates | undefined {
  let a: string | undefined;
  let b: string | undefined;
  let duplicates: number | undefined;
  if (key) [a, b] = key.split(/\s*(?:\/|\||↔|<->|,|:|\s-\s|\bvs\b)\s*/);
  if (typeof value === 'number') duplicates = value;
  else if (isObject(value)) {
    const splits = field(value, 'splits', 'pair');
    if (Array.isArray(splits) && splits.length === 2) [a, b] = splits.map(String);
    a = stringField(value, 'a', 'left', 'first', 'splitA') ?? a;
    b = stringField(value, 'b', 'right', 'second', 'splitB') ?? b;
    duplicates = numberField(value, 'duplicates', 'count', 'rows', 'images', 'duplicateRows', 'n');
    if (duplicates === undefined && Array.isArray(value.duplicates)) duplicates = value.duplicates.length;
  }
  if (a === undefined || b === undefined || duplicates === undefined) return undefined;
  return { a, b, duplicates };
}

function pairsFrom(value: unknown): SplitPairDuplicates[] {
  const out = Array.isArray(value)
    ? value.map((v) => pairFrom(v))
    : isObject(value)
      ? Object.entries(value).map(([k, v]) => pairFrom(v, k))
      : [];
  return out.filter((p): p is SplitPairDuplicates => !!p);
}

function withinFrom(value: unknown): { split: string; duplicates: number }[] {
  if (!isObject(value)) return [];
  return Object.entries(value)
    .map(([split, v]) => ({ split, duplicates: typeof v === 'number' ? v : isObject(v) ? numberField(v, 'duplicates', 'count') : undefined }))
    .filter((r): r is { split: string; duplicates: number } => r.duplicates !== undefined);
}

export function parseLeakage(json: unknown): LeakageView | undefined {
  if (!isObject(json)) return undefined;
  const pairs = pairsFrom(field(json, 'pairs', 'crossSplit', 'cross_split', 'splitPairs', 'between'));
  const conflicts = field(json, 'labelConflicts', 'label_conflicts', 'conflicts');
  const examples = field(json, 'examples', 'samples');
  const fallbackTotal = numberField(json, 'crossSplitDuplicates', 'cross_split_duplicates');
  const total = pairs.length ? pairs.reduce((sum, p) => sum + p.duplicates, 0) : (fallbackTotal ?? 0);
  return {
    pairs,
    withinSplit: withinFrom(field(json, 'withinSplit', 'within_split', 'within')),
    labelConflicts:
      typeof conflicts === 'number'
        ? conflicts
        : Array.isArray(conflicts)
          ? conflicts.length
          : isObject(conflicts)
            ? numberField(conflicts, 'count', 'total', 'images')
            : undefined,
    crossSplitDuplicates: total,
    method: stringField(json, 'method', 'hash'),
    examples: Array.isArray(examples) ? examples.filter(isObject).slice(0, 10) : [],
  };
}

export interface LeakageVerdict {
  leaky: boolean;
  headline: string;
  detail: string;
}

export function leakageVerdict(view: LeakageView): LeakageVerdict {
  const leaking = view.pairs.filter((p) => p.duplicates > 0);
  const conflicts = view.labelConflicts ? ` ${view.labelConflicts.toLocaleString('en-US')} identical images carry different labels.` : '';
  if (view.crossSplitDuplicates > 0) {
    const list = leaking.length
      ? leaking.map((p) => `${p.a} ↔ ${p.b}: ${p.duplicates.toLocaleString('en-US')}`).join('; ')
      : `${view.crossSplitDuplicates.toLocaleString('en-US')} in all`;
    return {
      leaky: true,
      headline: `Leak: ${view.crossSplitDuplicates.toLocaleString('en-US')} images occur in more than one split`,
      detail:
        `Duplicate images across splits (${list}). A model is scored on images it was trained on, ` +
        `so accuracy on those splits is inflated.${conflicts}`,
    };
  }
  return {
    leaky: false,
    headline: 'No images shared between splits',
    detail: `No duplicate images were found across ${view.pairs.length ? view.pairs.map((p) => `${p.a} ↔ ${p.b}`).join(', ') : 'the splits'}.${conflicts}`,
  };
}
