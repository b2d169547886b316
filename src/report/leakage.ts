// The leakage-check stage's leakage.json (src/formats/leakage.ts) as a verdict, findings per pair of splits
// (exact copies, and near copies when the stage looked for them) and a few examples. The verdict also weighs the
// protocol (src/report/protocol.ts): training on the split that is scored leaks without any shared image.
import type { LeakageFile, LeakageReport, SplitPairFindings } from '../formats/leakage.js';
import type { ProtocolFinding } from './protocol.js';

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
  /** Near copies, cross pairs: rows of each split with a near copy of their own in the other split. */
  matchedRows?: Record<string, number>;
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
  /** The rows side by side, a PNG data: URL. */
  thumbnail?: string;
}

/** Near copies (the stage's nearDuplicates): the same findings as for exact copies, and how they were found. */
export interface NearDuplicateView {
  cross: PairFindings[];
  within: PairFindings[];
  crossSplitGroups: number;
  labelConflictGroups?: number;
  examples: LeakageExample[];
  maxDistance?: number;
  minCorrelation?: number;
  maxShift?: number;
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
  near?: NearDuplicateView;
}

function pairOf(p: SplitPairFindings): { pair: PairFindings; cross: boolean; examples: LeakageExample[] } {
  const [a, b] = p.splits;
  const pair: PairFindings = {
    a,
    b,
    groups: p.groups,
    rows: p.rows,
    labelConflicts: p.labelConflicts,
    sameSourceGroups: p.sameSourceGroups,
    ...(p.matchedRows ? { matchedRows: p.matchedRows } : {}),
  };
  const cross = p.kind === 'cross';
  const name = cross ? `${a} × ${b}` : a;
  const examples = p.examples.map((e) => ({
    pair: name,
    size: e.size,
    labelConflict: e.labelConflict,
    ...(e.thumbnail ? { thumbnail: e.thumbnail } : {}),
    rows: e.rows,
  }));
  return { pair, cross, examples };
}

function pairsOf(report: LeakageReport) {
  const parsed = report.pairs.map(pairOf);
  const cross = parsed.filter((p) => p.cross).map((p) => p.pair);
  return {
    cross,
    within: parsed.filter((p) => !p.cross).map((p) => p.pair),
    crossSplitGroups: report.crossSplitGroups,
    labelConflictGroups: report.labelConflictGroups,
    // Cross-split examples first: they are the ones that matter for honesty.
    examples: [...parsed.filter((p) => p.cross), ...parsed.filter((p) => !p.cross)].flatMap((p) => p.examples).slice(0, 10),
  };
}

/** A leakage.json as the report shows it. */
export function leakageView(file: LeakageFile): LeakageView {
  const near = file.nearDuplicates;
  return {
    ...pairsOf(file),
    duplicateGroups: file.duplicateGroups,
    ...(near
      ? {
          near: {
            ...pairsOf(near),
            maxDistance: near.maxDistance,
            minCorrelation: near.minCorrelation,
            maxShift: near.maxShift,
          },
        }
      : {}),
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

/** Rows of each split with a near copy in the other, e.g. "627 test rows have a near copy in train". */
function nearSentence(p: PairFindings): string {
  const matched = p.matchedRows ?? p.rows;
  return [
    `${count(matched[p.b] ?? 0)} ${p.b} rows have a near copy in ${p.a}`,
    `${count(matched[p.a] ?? 0)} ${p.a} rows one in ${p.b}`,
  ].join(', ');
}

/**
 * The verdict on a run's honesty: a protocol that scores the split it trained on (or chose its epoch on) leaks
 * whatever the images, then images shared between splits, exact or near.
 */
export function leakageVerdict(view: LeakageView | undefined, protocol: ProtocolFinding[] = []): LeakageVerdict {
  const conflicts = view?.labelConflictGroups
    ? ` ${count(view.labelConflictGroups)} ${view.labelConflictGroups === 1 ? 'group' : 'groups'} of identical images carry different labels.`
    : '';
  const nearLeaking = view?.near?.cross.filter((p) => p.groups > 0) ?? [];
  const nearDetail = nearLeaking.length
    ? ` Near copies (re-encoded, shifted or brightened, exact ones included): ${nearLeaking.map(nearSentence).join('; ')}.`
    : '';
  if (protocol.length > 0) {
    return {
      leaky: true,
      headline: `Leak in the protocol: ${protocol[0].headline}`,
      detail: `${protocol.map((f) => f.detail).join(' ')}${view && view.crossSplitGroups > 0 ? ` Besides, ${count(view.crossSplitGroups)} images occur in more than one split.` : ''}${nearDetail}`,
    };
  }
  if (!view) return { leaky: false, headline: 'No leak in the protocol', detail: 'Training and evaluation use different splits.' };
  if (view.crossSplitGroups > 0) {
    const leaking = view.cross.filter((p) => p.groups > 0);
    return {
      leaky: true,
      headline: `Leak: ${count(view.crossSplitGroups)} images occur in more than one split`,
      detail:
        `${leaking.map(pairSentence).join('; ')}. The model is scored on images it was trained on, ` +
        `so accuracy on those splits is inflated.${conflicts}${nearDetail}`,
    };
  }
  if (view.near && view.near.crossSplitGroups > 0) {
    return {
      leaky: true,
      headline: `Leak: ${count(view.near.crossSplitGroups)} near-identical images occur in more than one split`,
      detail: `No byte-identical images are shared, but near copies are.${nearDetail} Accuracy on those splits is inflated.${conflicts}`,
    };
  }
  const pairs = view.cross.map((p) => `${p.a} × ${p.b}`).join(', ');
  return {
    leaky: false,
    headline: 'No images shared between splits',
    detail: `No identical${view.near ? ' or near-identical' : ''} images were found across ${pairs || 'the splits'}.${conflicts}`,
  };
}
