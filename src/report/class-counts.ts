// Class counts before and after resampling, from the `pipe.resample` metadata a resampling stage writes into the
// dataset (see src/data/resample-stage.ts), or plain per-split counts of a dataset that was not resampled.
import type { ResampleRecord } from '../data/resample-stage.js';
import { isObject, type Json } from '../formats/json-file.js';

export interface CountsTable {
  /** A split name, or "all" when every row was resampled as one pool. */
  group: string;
  classes: string[];
  before?: number[];
  after: number[];
}

export interface ResampleStep {
  method: string;
  strategy: string;
  /** Which splits were resampled ("all": the whole dataset as one pool, before any split). */
  splits: string;
  tables: CountsTable[];
}

export interface ClassCountsView {
  /** Oldest first; empty when the dataset was never resampled. */
  steps: ResampleStep[];
  /** Counts per split of the dataset as it is (set when read from the data, not from metadata). */
  current?: CountsTable[];
}

type Counts = Record<string, number>;

function countsOf(value: unknown): Counts {
  if (!isObject(value)) return {};
  return Object.fromEntries(Object.entries(value).filter(([, n]) => typeof n === 'number')) as Counts;
}

function parseStep(raw: Json, classOrder: string[]): ResampleStep | undefined {
  const before = isObject(raw.before) ? raw.before : {};
  const after = isObject(raw.after) ? raw.after : undefined;
  if (!after) return undefined;
  const tables: CountsTable[] = Object.keys(after).map((group) => {
    const b = countsOf(before[group]);
    const a = countsOf(after[group]);
    const classes = [...classOrder.filter((c) => c in a || c in b)];
    for (const c of [...Object.keys(b), ...Object.keys(a)]) if (!classes.includes(c)) classes.push(c);
    return {
      group,
      classes,
      before: before[group] === undefined ? undefined : classes.map((c) => b[c] ?? 0),
      after: classes.map((c) => a[c] ?? 0),
    };
  });
  const strategy = raw.strategy;
  return {
    method: typeof raw.method === 'string' ? raw.method : 'resample',
    strategy: typeof strategy === 'string' || typeof strategy === 'number' ? String(strategy) : JSON.stringify(strategy ?? 'auto'),
    splits: Array.isArray(raw.splits) ? raw.splits.join(', ') : String(raw.splits ?? ''),
    tables,
  };
}

/** Parse the JSON text under `pipe.resample`; class order follows `classes` (the dataset's `pipe.classes`). */
export function parseResampleMetadata(text: string | undefined, classes: string[] = []): ResampleStep[] {
  if (!text) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return [];
  }
  if (!isObject(raw)) return [];
  const record = raw as Partial<ResampleRecord> & Json;
  const chain = [...(Array.isArray(record.previous) ? record.previous : []), record] as unknown[];
  return chain.filter(isObject).map((s) => parseStep(s, classes)).filter((s): s is ResampleStep => !!s);
}

/** Per-split counts of a dataset, as `classCounts` of src/data/image-dataset.ts returns them. */
export function currentCounts(counts: Record<string, number[]>, classes: string[]): CountsTable[] {
  return Object.entries(counts).map(([group, after]) => ({ group, classes, after }));
}

export function totalRows(table: CountsTable): { before?: number; after: number } {
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return { before: table.before ? sum(table.before) : undefined, after: sum(table.after) };
}
