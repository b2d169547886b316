// Lists the images a CSV names, the layout of Ludwig's datasets and most Kaggle sets: one row per image with its
// path (relative to the CSV's folder), its label (a class name) and optionally its split. Columns are found by
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
  let text: string;
  try {
    text = (await readFile(list, 'utf8')).replace(/^\uFEFF/, '');
  } catch (err) {
    throw new PipeError(`cannot read the image list ${shown}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, {
      hint: 'check list (relative paths are resolved against the pipeline file\'s folder)',
      cause: err,
    });
  }
  const lines = text.split(/\r?\n/);
  const header = splitLine(lines[0] ?? '', ',');
  const where = (line: number) => `${shown}:${line}`;
  if (!header || header.length === 0 || header.every((h) => h === '')) throw new PipeError(`${where(1)}: the image list has no header row`, { hint: `start it with a header naming the columns, e.g. ${columns.path},${columns.label},${columns.split}` });
  const column = (name: string, required: boolean) => {
    const k = header.indexOf(name);
    if (k < 0 && required) {
      throw new PipeError(`${where(1)}: no column '${name}' in the image list`, {
        hint: `its columns are: ${header.join(', ')}; name the columns with columns: { path: …, label: …, split: … }`,
      });
    }
    return k;
  };
  const pathAt = column(columns.path, true);
  const labelAt = column(columns.label, true);
  // The split column may be left out (then one split for a split stage to divide), unless it was named.
  const splitAt = column(columns.split, columns.split !== DEFAULT_LIST_COLUMNS.split);

  const folder = await realpath(dirname(list));
  const rows: Array<{ relative: string; absolute: string; label: string; split: string }> = [];
  for (let i = 1; i < lines.length; i++) {
    if (lines[i].trim() === '') continue;
    const fields = splitLine(lines[i], ',');
    const line = i + 1;
    if (!fields) throw new PipeError(`${where(line)}: a quoted field is not closed`, { hint: 'close the quote, or remove that row' });
    const path = (fields[pathAt] ?? '').trim();
    const label = (fields[labelAt] ?? '').trim();
    const split = splitAt < 0 ? UNSPLIT : (fields[splitAt] ?? '').trim();
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
