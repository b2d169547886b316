// Lists the images a CSV or Parquet file names, the layout of Ludwig's datasets and most Kaggle sets: one row per
// image with its path (relative to the list's folder), its label (a class name) and optionally its split. Columns are found by
// name. Every path must stay inside the CSV's folder, links followed: that folder is what the cache key hashes
// for the listing, and a path from a data file never leads outside it. No decoding here.
import { readFile, realpath } from 'node:fs/promises';
import { dirname, extname, isAbsolute, join, sep } from 'node:path';
import { PipeError } from '../errors.js';
import { isWithin } from '../plain-path.js';
import { splitLine } from './csv-image-parser.js';
import { IMAGE_EXTENSIONS, UNSPLIT, type ImageFile, type ImageFolderListing } from './image-folder.js';

export interface ImageListColumns {
  path: string;
  label: string;
  /** Absent from the file: every row is in split UNSPLIT. */
  split: string;
}

export const DEFAULT_LIST_COLUMNS: ImageListColumns = { path: 'path', label: 'label', split: 'split' };

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The images `list` names. `classes`: the label order (a label not in it is an error); default the sorted labels
 * found. `shown` is how the file is named in messages.
 */
export async function listImageList(list: string, classes: string[] | undefined, columns: ImageListColumns, shown = list): Promise<ImageFolderListing> {
  const table = isParquet(list) ? await parquetRows(list, columns, shown) : await csvRows(list, columns, shown);
  const { where } = table;
  const folder = await realpath(dirname(list));
  const rows: Array<{ relative: string; absolute: string; label: string; split: string }> = [];
  for (const { at: line, path: rawPath, label: rawLabel, split: rawSplit } of table.rows) {
    const path = rawPath.trim();
    const label = rawLabel.trim();
    const split = rawSplit === undefined ? UNSPLIT : rawSplit.trim();
    if (!path || !label || !split) {
      const empty = !path ? columns.path : !label ? columns.label : columns.split;
      throw new PipeError(`${where(line)}: column '${empty}' is empty`, { hint: 'give every row a path, a label and (with a split column) a split, or remove the row' });
    }
    if (!IMAGE_EXTENSIONS.has(extname(path).toLowerCase())) {
      throw new PipeError(`${where(line)}: '${path}' is not a .jpg, .jpeg or .png file`, { hint: 'list only JPEG and PNG images' });
    }
    const absolute = join(folder, path);
    const real = await realpath(absolute).catch(() => undefined);
    if (real === undefined) throw new PipeError(`${where(line)}: image '${path}' not found (paths are relative to the list's folder)`, { hint: 'fix the path, or remove the row' });
    // `folder` and `real` are both resolved: one realpath a row, which matters at hundreds of thousands of rows.
    if (isAbsolute(path) || real === folder || !isWithin(folder, real)) {
      throw new PipeError(`${where(line)}: image '${path}' is outside the list's folder`, {
        hint: 'keep the list at the top of its images\' folder and give paths inside it (no absolute paths, no .. out of it, no links out)',
      });
    }
    rows.push({ relative: path.split(sep).join('/'), absolute: real, label, split });
  }
  if (rows.length === 0) throw new PipeError(`${shown} lists no images`, { hint: `add rows under the header: <${columns.path}>,<${columns.label}>[,<${columns.split}>]` });

  const found = [...new Set(rows.map((r) => r.label))].sort(byName);
  if (classes) {
    const unknown = found.filter((l) => !classes.includes(l));
    if (unknown.length) {
      throw new PipeError(`label ${unknown.slice(0, 5).map((l) => `'${l}'`).join(', ')} in ${shown} is not in classes`, {
        hint: `classes lists ${classes.join(', ')}; add the label to classes, or fix the rows`,
      });
    }
  }
  const classList = classes ?? found;
  if (classList.length > 256) throw new PipeError(`${classList.length} labels in ${shown}; at most 256 classes`);
  const splits = [...new Set(rows.map((r) => r.split))];
  if (splits.length > 127) throw new PipeError(`${splits.length} split values in ${shown}; at most 127`);
  const files: ImageFile[] = rows.map((r) => ({ relative: r.relative, absolute: r.absolute, split: r.split, label: classList.indexOf(r.label) }));
  return { splits, classes: classList, files, ignored: [] };
}

/** One row of a list: where it is (a CSV line, a Parquet row), and its fields as text; split undefined: no split column. */
interface ListRow {
  at: number;
  path: string;
  label: string;
  split?: string;
}

interface ListTable {
  rows: ListRow[];
  /** How a row is named in messages: "list.csv:12", "list.parquet, row 12". */
  where(at: number): string;
}

const isParquet = (file: string) => ['.parquet', '.pq'].includes(extname(file).toLowerCase());

function unreadable(shown: string, err: unknown): PipeError {
  return new PipeError(`cannot read the image list ${shown}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
    hint: "check list (relative paths are resolved against the pipeline file's folder)",
    cause: err,
  });
}

/** The index of column `name` in `header`; -1 when absent and not required. */
function columnOf(header: string[], name: string, required: boolean, where: string): number {
  const k = header.indexOf(name);
  if (k < 0 && required) {
    throw new PipeError(`${where}: no column '${name}' in the image list`, {
      hint: `its columns are: ${header.join(', ')}; name the columns with columns: { path: …, label: …, split: … }`,
    });
  }
  return k;
}

/** The split column may be left out (then one split for a split stage to divide), unless it was named. */
const splitRequired = (columns: ImageListColumns) => columns.split !== DEFAULT_LIST_COLUMNS.split;

async function csvRows(list: string, columns: ImageListColumns, shown: string): Promise<ListTable> {
  let text: string;
  try {
    text = (await readFile(list, 'utf8')).replace(/^\uFEFF/, '');
  } catch (err) {
    throw unreadable(shown, err);
  }
  const lines = text.split(/\r?\n/);
  const header = splitLine(lines[0] ?? '', ',');
  const where = (line: number) => `${shown}:${line}`;
  if (!header || header.length === 0 || header.every((h) => h === '')) throw new PipeError(`${where(1)}: the image list has no header row`, { hint: `start it with a header naming the columns, e.g. ${columns.path},${columns.label},${columns.split}` });
  const pathAt = columnOf(header, columns.path, true, where(1));
  const labelAt = columnOf(header, columns.label, true, where(1));
  const splitAt = columnOf(header, columns.split, splitRequired(columns), where(1));
  const rows: ListRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const fields = splitLine(lines[i], ',');
    if (!fields) throw new PipeError(`${where(i + 1)}: a quoted field is not closed`, { hint: 'close the quote, or remove that row' });
    rows.push({ at: i + 1, path: fields[pathAt] ?? '', label: fields[labelAt] ?? '', split: splitAt < 0 ? undefined : fields[splitAt] ?? '' });
  }
  return { rows, where };
}

/** A cell as text: strings as they are, numbers (a label column of class numbers) and booleans written out. */
function cellText(value: unknown, where: string, column: string): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  throw new PipeError(`${where}: column '${column}' holds ${Array.isArray(value) ? 'a list' : typeof value}, not text`, { hint: 'give path, label and split columns of strings (a label may be a number)' });
}

/** The rows of a Parquet list (pandas' to_parquet, pyarrow, DuckDB or Spark), its columns read by name. */
async function parquetRows(list: string, columns: ImageListColumns, shown: string): Promise<ListTable> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } = await import('hyparquet');
  const where = (row: number) => `${shown}, row ${row}`;
  let file;
  let metadata;
  try {
    file = await asyncBufferFromFile(list);
    metadata = await parquetMetadataAsync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw unreadable(shown, err);
    throw new PipeError(`${shown} is not a Parquet file that can be read: ${(err as Error).message}`, { hint: 'write it with pandas (DataFrame.to_parquet), pyarrow or DuckDB, or give a CSV list', cause: err });
  }
  const header = parquetSchema(metadata).children.map((c) => c.element.name);
  columnOf(header, columns.path, true, shown);
  columnOf(header, columns.label, true, shown);
  const names = [columns.path, columns.label, ...(columnOf(header, columns.split, splitRequired(columns), shown) >= 0 ? [columns.split] : [])];
  let objects: Record<string, unknown>[];
  try {
    objects = await parquetReadObjects({ file, metadata, columns: names });
  } catch (err) {
    throw new PipeError(`cannot read the columns ${names.join(', ')} of ${shown}: ${(err as Error).message}`, {
      hint: /compression|codec/i.test((err as Error).message)
        ? "write it with snappy compression or none (pandas and pyarrow do by default; polars: write_parquet(path, compression='snappy'))"
        : 'write it with pandas (DataFrame.to_parquet), pyarrow or DuckDB, or give a CSV list',
      cause: err,
    });
  }
  const rows = objects.map((o, i) => ({
    at: i + 1,
    path: cellText(o[columns.path], where(i + 1), columns.path),
    label: cellText(o[columns.label], where(i + 1), columns.label),
    split: names.length > 2 ? cellText(o[columns.split], where(i + 1), columns.split) : undefined,
  }));
  return { rows, where };
}
