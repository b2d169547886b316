// Lists an image folder tree laid out as <root>/<split>/<class>/<image>.(jpg|jpeg|png), the layout of the
// common FER2013 image distribution (train/ and test/ with one folder per emotion), or as <root>/<class>/<image>,
// the layout of Keras's image_dataset_from_directory, whose rows all go to one split (UNSPLIT) for the split
// stage to divide. No decoding here.
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { PipeError } from '../errors.js';

export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png']);

export interface ImageFile {
  /** Path relative to the root, with '/' separators: split/class/name, or class/name. */
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

const LAYOUT = '<root>/<split>/<class>/<image>.png|jpg|jpeg (e.g. fer2013/train/happy/0001.png) or <root>/<class>/<image> (e.g. faces/happy/0001.png)';

/** The split every row of a <root>/<class>/<image> tree is in: the split stage's `fractions` divide it. */
export const UNSPLIT = 'all';

/** 'auto' tells the layouts apart by where the images are: one folder down (classes) or two (splits, then classes). */
export type FolderLayout = 'auto' | 'splits' | 'classes';

async function entries(dir: string) {
  const all = await readdir(dir, { withFileTypes: true });
  return all.filter((e) => !e.name.startsWith('.')).sort((a, b) => byName(a.name, b.name));
}

/**
 * Lists the tree. `classes`: explicit class order (a class folder not in it is an error); default the sorted
 * union of class folder names over all splits. `rootName` is how the root is named in messages.
 */
export async function listImageFolder(root: string, classes: string[] | undefined, rootName = root, layout: FolderLayout = 'auto'): Promise<ImageFolderListing> {
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
  const top = await entries(root);
  const strayTop = top.filter((e) => e.isFile() && isImage(e.name));
  if (strayTop.length > 0) {
    throw new PipeError(`${rootName} holds images directly (${strayTop[0].name}…); images must sit in a folder per class`, {
      hint: `expected layout ${LAYOUT}`,
    });
  }
  const folders: Array<{ name: string; inside: Awaited<ReturnType<typeof entries>> }> = [];
  for (const e of top) {
    if (e.isDirectory()) folders.push({ name: e.name, inside: await entries(join(root, e.name)) });
    else ignored.push(e.name);
  }
  const holdsImages = (f: (typeof folders)[number]) => f.inside.some((e) => e.isFile() && isImage(e.name));
  const classFolders = folders.filter(holdsImages).map((f) => f.name);
  const chosen = layout === 'auto' ? (classFolders.length > 0 ? 'classes' : 'splits') : layout;
  const tree: Array<{ split: string; classDirs: Array<{ name: string; files: string[] }> }> = [];
  // The files of one class folder; anything else in it is ignored.
  const classDir = async (name: string, path: string, shown: string, inside?: Awaited<ReturnType<typeof entries>>) => {
    const files: string[] = [];
    for (const f of inside ?? (await entries(path))) {
      if (f.isFile() && isImage(f.name)) files.push(f.name);
      else ignored.push(`${shown}/${f.name}`);
    }
    return { name, files };
  };
  if (chosen === 'classes') {
    const nested = folders.find((f) => !holdsImages(f) && f.inside.some((e) => e.isDirectory()));
    if (nested && layout === 'auto') {
      throw new PipeError(
        `${rootName} mixes the two layouts: ${classFolders[0]}/ holds images (a class folder) but ${nested.name}/ holds folders (a split folder)`,
        { hint: `use one layout for the whole tree: ${LAYOUT}; or set layout: classes or layout: splits` },
      );
    }
    const classDirs = [];
    for (const f of folders) classDirs.push(await classDir(f.name, join(root, f.name), f.name, f.inside));
    tree.push({ split: UNSPLIT, classDirs });
  } else {
    for (const f of folders) {
      if (holdsImages(f)) {
        throw new PipeError(`${rootName}/${f.name} holds images directly (${f.inside.find((e) => e.isFile() && isImage(e.name))!.name}…), so '${f.name}' is a class folder, not a split folder`, {
          hint: `layout: splits expects ${LAYOUT.split(' or ')[0]}; use layout: classes (or auto) for <root>/<class>/<image>`,
        });
      }
      const classDirs = [];
      for (const e of f.inside) {
        if (e.isDirectory()) classDirs.push(await classDir(e.name, join(root, f.name, e.name), `${f.name}/${e.name}`));
        else ignored.push(`${f.name}/${e.name}`);
      }
      tree.push({ split: f.name, classDirs });
    }
  }

  const found = [...new Set(tree.flatMap((s) => s.classDirs.map((c) => c.name)))].sort(byName);
  let classList: string[];
  if (classes) {
    const unknown = tree.flatMap((s) => s.classDirs.filter((c) => !classes.includes(c.name)).map((c) => (chosen === 'classes' ? c.name : `${s.split}/${c.name}`)));
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
        const relative = chosen === 'classes' ? `${name}/${file}` : `${split}/${name}/${file}`;
        files.push({ relative, absolute: join(root, relative), split, label });
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
