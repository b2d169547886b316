// The leakage-check stage's leakage.json (src/data/leakage-report.ts) as a verdict, findings per pair of splits
// and a few examples. Fields are read defensively: a report from an older or newer stage version still shows
// what it can.
import { field, isObject, numberField, stringField, type Json } from './json-fields.js';

export interface PairFindings {
  a: string;
  b: string;
  /** Groups of identical images with rows in both splits (cross) or two or more rows in the split (within). */
  groups: number;
  /** Rows of those groups per split of the pair. */
  rows: Record<string, number>;
  labelConflicts: number;
  /** Groups that are copies of one source row (what resampling makes), not duplicates in the source data. */
  sameSourceGroups: number;
}

export interface ExampleRow {
  row?: number;
  source?: number;
  split: string;
  label: string;
}

export interface LeakageExample {
  pair: string;
  size: number;
  labelConflict: boolean;
  rows: ExampleRow[];
}

export interface LeakageView {
  /** Pairs of two different splits. */
  cross: PairFindings[];
  /** Each split with itself. */
  within: PairFindings[];
  /** Distinct images that occur in more than one split. */
  crossSplitGroups: number;
  labelConflictGroups?: number;
  duplicateGroups?: number;
  examples: LeakageExample[];
}

function parsePair(value: Json): { pair: PairFindings; cross: boolean; examples: LeakageExample[] } | undefined {
  const splits = field(value, 'splits');
  if (!Array.isArray(splits) || splits.length !== 2) return undefined;
  const [a, b] = splits.map(String);
  const rowsField = isObject(value.rows) ? value.rows : {};
  const rows = Object.fromEntries(Object.entries(rowsField).filter(([, n]) => typeof n === 'number')) as Record<string, number>;
  const pair: PairFindings = {
    a,
    b,
    groups: numberField(value, 'groups', 'duplicates') ?? 0,
    rows,
    labelConflicts: numberField(value, 'labelConflicts') ?? 0,
    sameSourceGroups: numberField(value, 'sameSourceGroups') ?? 0,
  };
  const cross = stringField(value, 'kind') ? value.kind === 'cross' : a !== b;
  const name = cross ? `${a} × ${b}` : a;
  const examples = (Array.isArray(value.examples) ? value.examples : []).filter(isObject).map((e) => ({
    pair: name,
    size: numberField(e, 'size') ?? 0,
    labelConflict: e.labelConflict === true,
    rows: (Array.isArray(e.rows) ? e.rows : []).filter(isObject).map((r) => ({
      row: numberField(r, 'row'),
      source: numberField(r, 'source'),
      split: stringField(r, 'split') ?? '',
      label: String(field(r, 'label') ?? ''),
    })),
  }));
  return { pair, cross, examples };
}

export function parseLeakage(json: unknown): LeakageView | undefined {
  if (!isObject(json) || !Array.isArray(json.pairs)) return undefined;
  const parsed = json.pairs.filter(isObject).map(parsePair).filter((p) => !!p);
  const cross = parsed.filter((p) => p.cross).map((p) => p.pair);
  return {
    cross,
    within: parsed.filter((p) => !p.cross).map((p) => p.pair),
    crossSplitGroups: numberField(json, 'crossSplitGroups') ?? cross.reduce((sum, p) => sum + p.groups, 0),
    labelConflictGroups: numberField(json, 'labelConflictGroups'),
    duplicateGroups: numberField(json, 'duplicateGroups'),
    // Cross-split examples first: they are the ones that matter for honesty.
    examples: [...parsed.filter((p) => p.cross), ...parsed.filter((p) => !p.cross)].flatMap((p) => p.examples).slice(0, 10),
  };
}

export interface LeakageVerdict {
  leaky: boolean;
  headline: string;
  detail: string;
}

const count = (n: number) => n.toLocaleString('en-US');

function pairSentence(p: PairFindings): string {
  const rows = Object.entries(p.rows).map(([split, n]) => `${count(n)} ${split} rows`).join(', ');
  const origin =
    p.sameSourceGroups > 0
      ? `; ${count(p.sameSourceGroups)} of them copies of one source row (made by resampling), ` +
        `${count(p.groups - p.sameSourceGroups)} duplicates already in the source data`
      : '';
  return `${p.a} × ${p.b}: ${count(p.groups)} images (${rows})${origin}`;
}

export function leakageVerdict(view: LeakageView): LeakageVerdict {
  const conflicts = view.labelConflictGroups
    ? ` ${count(view.labelConflictGroups)} ${view.labelConflictGroups === 1 ? 'group' : 'groups'} of identical images carry different labels.`
    : '';
  if (view.crossSplitGroups > 0) {
    const leaking = view.cross.filter((p) => p.groups > 0);
    return {
      leaky: true,
      headline: `Leak: ${count(view.crossSplitGroups)} images occur in more than one split`,
      detail:
        `${leaking.map(pairSentence).join('; ')}. The model is scored on images it was trained on, ` +
        `so accuracy on those splits is inflated.${conflicts}`,
    };
  }
  const pairs = view.cross.map((p) => `${p.a} × ${p.b}`).join(', ');
  return {
    leaky: false,
    headline: 'No images shared between splits',
    detail: `No identical images were found across ${pairs || 'the splits'}.${conflicts}`,
  };
}
