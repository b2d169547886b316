// Lists an image folder tree laid out as <root>/<split>/<class>/<image>.(jpg|jpeg|png), the layout of the
// common FER2013 image distribution (train/ and test/ with one folder per emotion). No decoding here.
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { PipeError } from '../errors.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);

export interface ImageFile {
  /** Path relative to the root, with '/' separators: split/class/name. */
  relative: string;
  absolute: string;
  split: string;
  /** Index into the class list. */
  label: number;
}

export interface ImageFolderListing {
  splits: string[];
  classes: string[];
  /** Sorted by split, then class folder name, then file name. */
  files: ImageFile[];
  /** Files that are not .jpg/.jpeg/.png (or are hidden), and folders nested inside class folders: not read. */
  ignored: string[];
}

/** Byte-order comparison: the same order on every machine and locale. */
const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function isImage(name: string): boolean {
  return IMAGE_EXTENSIONS.has(extname(name).toLowerCase());
}

const LAYOUT = '<root>/<split>/<class>/<image>.png|jpg|jpeg, e.g. fer2013/train/happy/0001.png';

async function entries(dir: string) {
  const all = await readdir(dir, { withFileTypes: true });
  return all.filter((e) => !e.name.startsWith('.')).sort((a, b) => byName(a.name, b.name));
}

/**
 * Lists the tree. `classes`: explicit class order (a class folder not in it is an error); default the sorted
 * union of class folder names over all splits. `rootName` is how the root is named in messages.
 */
export async function listImageFolder(root: string, classes: string[] | undefined, rootName = root): Promise<ImageFolderListing> {
  try {
    const info = await stat(root);
    if (!info.isDirectory()) throw new PipeError(`root ${rootName} is a file, not a folder`, { hint: `point root at a folder laid out as ${LAYOUT}` });
  } catch (err) {
    if (err instanceof PipeError) throw err;
    throw new PipeError(`root folder ${rootName} does not exist`, {
      hint: `check root (relative paths are resolved against the pipeline file's folder); expected layout ${LAYOUT}`,
      cause: err,
    });
  }
  const ignored: string[] = [];
  const tree: Array<{ split: string; classDirs: Array<{ name: string; files: string[] }> }> = [];
  const top = await entries(root);
  const strayTop = top.filter((e) => e.isFile() && isImage(e.name));
  if (strayTop.length > 0) {
    throw new PipeError(`${rootName} holds images directly (${strayTop[0].name}…); images must sit two folders down`, {
      hint: `expected layout ${LAYOUT}`,
    });
  }
  for (const splitDir of top) {
    if (!splitDir.isDirectory()) {
      ignored.push(splitDir.name);
      continue;
    }
    const splitPath = join(root, splitDir.name);
    const inSplit = await entries(splitPath);
    const strayImages = inSplit.filter((e) => e.isFile() && isImage(e.name));
    if (strayImages.length > 0) {
      throw new PipeError(
        `${rootName}/${splitDir.name} holds images directly (${strayImages[0].name}…), so '${splitDir.name}' looks like a class folder, not a split folder`,
        { hint: `point root at the folder that contains the split folders (e.g. train/ and test/); expected layout ${LAYOUT}` },
      );
    }
    const classDirs: Array<{ name: string; files: string[] }> = [];
    for (const classDir of inSplit) {
      if (!classDir.isDirectory()) {
        ignored.push(`${splitDir.name}/${classDir.name}`);
        continue;
      }
      const files: string[] = [];
      for (const f of await entries(join(splitPath, classDir.name))) {
        if (f.isFile() && isImage(f.name)) files.push(f.name);
        else ignored.push(`${splitDir.name}/${classDir.name}/${f.name}`);
      }
      classDirs.push({ name: classDir.name, files });
    }
    tree.push({ split: splitDir.name, classDirs });
  }

  const found = [...new Set(tree.flatMap((s) => s.classDirs.map((c) => c.name)))].sort(byName);
  let classList: string[];
  if (classes) {
    const unknown = tree.flatMap((s) => s.classDirs.filter((c) => !classes.includes(c.name)).map((c) => `${s.split}/${c.name}`));
    if (unknown.length > 0) {
      throw new PipeError(`class folder ${unknown.slice(0, 5).map((u) => `${rootName}/${u}`).join(', ')}${unknown.length > 5 ? ', …' : ''} is not in classes`, {
        hint: `classes lists ${classes.join(', ')}; add the folder's name to classes, or remove the folder`,
      });
    }
    classList = classes;
  } else classList = found;
  if (classList.length > 256) throw new PipeError(`${classList.length} class folders; at most 256 classes`);

  const files: ImageFile[] = [];
  for (const { split, classDirs } of tree) {
    for (const { name, files: names } of classDirs) {
      const label = classList.indexOf(name);
      for (const file of names) {
        files.push({ relative: `${split}/${name}/${file}`, absolute: join(root, split, name, file), split, label });
      }
    }
  }
  if (files.length === 0) {
    throw new PipeError(`no images (.jpg, .jpeg, .png) found under ${rootName}`, { hint: `expected layout ${LAYOUT}` });
  }
  const splits = tree.filter((s) => s.classDirs.some((c) => c.files.length > 0)).map((s) => s.split);
  if (splits.length > 127) throw new PipeError(`${splits.length} split folders; at most 127`);
  return { splits, classes: classList, files, ignored };
}
