// deduplication.json: what the deduplicate stage removed from which split because a copy of the image lies in a
// split that outranks it (src/data/deduplication.ts decides), with a few examples and their thumbnails. The
// report's Deduplication section reads it through readDeduplication.
//
// Versioned by its `format` field ('pipe-deduplication/1'); a file of another format is refused.
import { Checker, defined, pngDataUrl, readJsonFile, writeJsonFile } from './json-file.js';

export const DEDUPLICATION_FILE = 'deduplication.json';
export const DEDUPLICATION_KIND = 'deduplication';
export const DEDUPLICATION_FORMAT = 'pipe-deduplication/1';

export interface RemovedExample {
  /** The removed row and the row it copies (in the split that kept its image), as dataset rows of the input. */
  removed: { row: number; split: string; label: string };
  kept: { row: number; split: string; label: string };
  /** A PNG strip of the two images (data: URL), added by the stage. */
  thumbnail?: string;
}

export interface DeduplicationReport {
  format: typeof DEDUPLICATION_FORMAT;
  /** 'exact' (identical bytes) or 'near' (the leakage check's near-duplicates, exact ones included). */
  match: 'exact' | 'near';
  from: string[];
  withinSplit: boolean;
  rowsBefore: number;
  rowsAfter: number;
  /** Rows removed per split. */
  removedBySplit: Record<string, number>;
  /** Rows removed per "<removed split> × <outranking split>" (a row counts once, against the first outranking split). */
  removedByPair: Record<string, number>;
  /** Rows merged into an earlier copy in their own split (withinSplit). */
  mergedBySplit: Record<string, number>;
  examples: Record<string, RemovedExample[]>;
}

const WRITER = 'the deduplicate stage';

export async function writeDeduplication(file: string, value: DeduplicationReport): Promise<void> {
  await writeJsonFile(file, value);
}

/** A parsed deduplication.json, checked; `file` names it in errors. */
export function parseDeduplication(json: unknown, file: string): DeduplicationReport {
  const c = new Checker({ file, writer: WRITER });
  const r = c.object(json, '');
  if (r.format !== DEDUPLICATION_FORMAT) c.fail('format', `'${DEDUPLICATION_FORMAT}'`, r.format);
  const side = (value: unknown, path: string) => {
    const s = c.object(value, path);
    return { row: c.index(s.row, c.at(path, 'row')), split: c.string(s.split, c.at(path, 'split')), label: c.string(s.label, c.at(path, 'label')) };
  };
  return {
    format: DEDUPLICATION_FORMAT,
    match: c.oneOf(r.match, 'match', ['exact', 'near'] as const),
    from: c.strings(r.from, 'from'),
    withinSplit: c.boolean(r.withinSplit, 'withinSplit'),
    rowsBefore: c.number(r.rowsBefore, 'rowsBefore'),
    rowsAfter: c.number(r.rowsAfter, 'rowsAfter'),
    removedBySplit: c.counts(r.removedBySplit, 'removedBySplit'),
    removedByPair: c.counts(r.removedByPair, 'removedByPair'),
    mergedBySplit: c.counts(r.mergedBySplit, 'mergedBySplit'),
    examples: c.entries(r.examples, 'examples', (list, listPath) =>
      c.list(list, listPath, (value, path) => {
        const e = c.object(value, path);
        return defined<RemovedExample>({
          removed: side(e.removed, c.at(path, 'removed')),
          kept: side(e.kept, c.at(path, 'kept')),
          // Only images the stage drew (pages embed them): anything but a PNG data: URL is dropped.
          thumbnail: pngDataUrl(e.thumbnail),
        });
      }),
    ),
  };
}

export async function readDeduplication(file: string): Promise<DeduplicationReport> {
  return parseDeduplication(await readJsonFile({ file, writer: WRITER }), file);
}
