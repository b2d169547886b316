// leakage.json: what the leakage-check stage found. For every pair of splits (each split with itself, and every
// two splits) the groups of byte-identical images they share, their rows per split, label conflicts and a few
// examples with thumbnails; the same for near copies under `nearDuplicates` when the stage looked for them.
// src/data/leakage-report.ts computes it; the report's verdict, the run summary, CI gates (leakage.leaky) and the
// dashboard read it through readLeakage.
//
// The file carries no version field; this shape is version 1. Files from the first leakage-check lack thumbnails,
// matchedRows and nearDuplicates, which are optional here.
import { Checker, defined, pngDataUrl, readJsonFile, writeJsonFile } from './json-file.js';

export const LEAKAGE_FILE = 'leakage.json';
export const LEAKAGE_KIND = 'leakage';
export const LEAKAGE_FORMAT_VERSION = 1;

export interface ExampleRow {
  /** Row index in the checked dataset. */
  row: number;
  /** Row number in the original source (the dataset's `source` column). */
  source: number;
  split: string;
  label: string;
}

export interface DuplicateExample {
  /** Rows of the group that lie in the pair's splits (at most a few are listed). */
  rows: ExampleRow[];
  /** Rows of the group in the pair's splits, listed or not. */
  size: number;
  labelConflict: boolean;
  /** The listed rows side by side as a PNG data: URL (added by the leakage-check stage). */
  thumbnail?: string;
}

export interface SplitPairFindings {
  /** [a, a] for duplicates within one split, [a, b] for the same image in two splits. */
  splits: [string, string];
  kind: 'within' | 'cross';
  /** Groups of identical images with two or more rows in the split (within), or rows in both splits (cross). */
  groups: number;
  /** Rows of those groups, per split of the pair. */
  rows: Record<string, number>;
  /** Of those groups, how many carry more than one label among the pair's rows. */
  labelConflicts: number;
  /**
   * Of those groups, how many are copies of a single source row (all rows share one `source` number), as a
   * resampling stage makes them, rather than duplicates already present in the source data.
   */
  sameSourceGroups: number;
  examples: DuplicateExample[];
  /**
   * Near duplicates only: rows of each split of a cross pair that have a confirmed near copy in the other split
   * themselves (group counts also hold rows linked only through a third image).
   */
  matchedRows?: Record<string, number>;
}

export interface LeakageReport {
  rows: number;
  rowsPerSplit: Record<string, number>;
  /** Groups of two or more byte-identical images, anywhere. */
  duplicateGroups: number;
  /** Rows that belong to such groups. */
  rowsInDuplicateGroups: number;
  /** Groups whose rows carry more than one label. */
  labelConflictGroups: number;
  /** Groups with rows in more than one split. */
  crossSplitGroups: number;
  /** Every split with itself and every two splits, in the dataset's split order. */
  pairs: SplitPairFindings[];
}

/** The near-copy findings: the same report over groups of near copies, and how they were looked for. */
export interface NearDuplicatesReport extends LeakageReport {
  maxDistance: number;
  minCorrelation: number;
  maxShift: number;
  /** Pairs the perceptual hash proposed, and those the pixel correlation confirmed. */
  candidatePairs: number;
  confirmedPairs: number;
}

export type LeakageFailOn = 'none' | 'cross-split' | 'any';

export interface LeakageFile extends LeakageReport {
  nearDuplicates?: NearDuplicatesReport;
  failOn: LeakageFailOn;
  /** The stage failed the run (failOn found what it looks for). */
  failed: boolean;
}

const WRITER = 'the leakage-check stage';

export async function writeLeakage(file: string, value: LeakageFile): Promise<void> {
  await writeJsonFile(file, value);
}

function checkPair(c: Checker, value: unknown, path: string): SplitPairFindings {
  const p = c.object(value, path);
  const at = (key: string) => c.at(path, key);
  const splits = c.strings(p.splits, at('splits'));
  if (splits.length !== 2) c.fail(at('splits'), 'two split names', p.splits, `${splits.length}`);
  return defined<SplitPairFindings>({
    splits: [splits[0], splits[1]],
    kind: c.oneOf(p.kind, at('kind'), ['within', 'cross'] as const),
    groups: c.number(p.groups, at('groups')),
    rows: c.counts(p.rows, at('rows')),
    labelConflicts: c.number(p.labelConflicts, at('labelConflicts')),
    sameSourceGroups: c.number(p.sameSourceGroups, at('sameSourceGroups')),
    examples: c.list(p.examples, at('examples'), (v, examplePath) => {
      const e = c.object(v, examplePath);
      return defined<DuplicateExample>({
        rows: c.list(e.rows, c.at(examplePath, 'rows'), (r, rowPath) => {
          const row = c.object(r, rowPath);
          return {
            row: c.index(row.row, c.at(rowPath, 'row')),
            source: c.index(row.source, c.at(rowPath, 'source')),
            split: c.string(row.split, c.at(rowPath, 'split')),
            label: c.string(row.label, c.at(rowPath, 'label')),
          };
        }),
        size: c.number(e.size, c.at(examplePath, 'size')),
        labelConflict: c.boolean(e.labelConflict, c.at(examplePath, 'labelConflict')),
        // Only images the stage drew (pages embed them): anything but a PNG data: URL is dropped.
        thumbnail: pngDataUrl(e.thumbnail),
      });
    }),
    matchedRows: p.matchedRows === undefined ? undefined : c.counts(p.matchedRows, at('matchedRows')),
  });
}

function checkReport(c: Checker, r: Record<string, unknown>, path: string): LeakageReport {
  const at = (key: string) => c.at(path, key);
  return {
    rows: c.number(r.rows, at('rows')),
    rowsPerSplit: c.counts(r.rowsPerSplit, at('rowsPerSplit')),
    duplicateGroups: c.number(r.duplicateGroups, at('duplicateGroups')),
    rowsInDuplicateGroups: c.number(r.rowsInDuplicateGroups, at('rowsInDuplicateGroups')),
    labelConflictGroups: c.number(r.labelConflictGroups, at('labelConflictGroups')),
    crossSplitGroups: c.number(r.crossSplitGroups, at('crossSplitGroups')),
    pairs: c.list(r.pairs, at('pairs'), (v, pairPath) => checkPair(c, v, pairPath)),
  };
}

/** A parsed leakage.json, checked; `file` names it in errors. */
export function parseLeakage(json: unknown, file: string): LeakageFile {
  const c = new Checker({ file, writer: WRITER });
  const top = c.object(json, '');
  let nearDuplicates: NearDuplicatesReport | undefined;
  if (top.nearDuplicates !== undefined) {
    const near = c.object(top.nearDuplicates, 'nearDuplicates');
    const at = (key: string) => c.at('nearDuplicates', key);
    nearDuplicates = {
      maxDistance: c.number(near.maxDistance, at('maxDistance')),
      minCorrelation: c.number(near.minCorrelation, at('minCorrelation')),
      maxShift: c.number(near.maxShift, at('maxShift')),
      candidatePairs: c.number(near.candidatePairs, at('candidatePairs')),
      confirmedPairs: c.number(near.confirmedPairs, at('confirmedPairs')),
      ...checkReport(c, near, 'nearDuplicates'),
    };
  }
  return {
    ...checkReport(c, top, ''),
    ...(nearDuplicates ? { nearDuplicates } : {}),
    failOn: c.oneOf(top.failOn, 'failOn', ['none', 'cross-split', 'any'] as const),
    failed: c.boolean(top.failed, 'failed'),
  };
}

export async function readLeakage(file: string): Promise<LeakageFile> {
  return parseLeakage(await readJsonFile({ file, writer: WRITER }), file);
}
