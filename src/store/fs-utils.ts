// Small file-system helpers the store builds on: walking a tree, durable writes, atomic removal.
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { join, relative, isAbsolute } from 'node:path';
import { PipeError } from '../errors.js';
import { ownedName } from '../owner.js';

export interface TreeFile {
  /** Relative to the walked root, '/' separators on every platform. */
  rel: string;
  abs: string;
}

/**
 * Every file under `root`, sorted by relative path (code-point order, so the result does not depend on the
 * locale). Symbolic links and other special files are reported through `onOther` (they cannot be content
 * addressed); by default they are skipped.
 */
export async function walkFiles(root: string, onOther?: (rel: string) => void): Promise<TreeFile[]> {
  const out: TreeFile[] = [];
  async function visit(dir: string, prefix: string): Promise<void> {
    const items = await readdir(dir, { withFileTypes: true });
    for (const item of items) {
      const rel = prefix ? `${prefix}/${item.name}` : item.name;
      const abs = join(dir, item.name);
      if (item.isDirectory()) await visit(abs, rel);
      else if (item.isFile()) out.push({ rel, abs });
      else onOther?.(rel);
    }
  }
  await visit(root, '');
  out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out;
}

/** Flush a directory's entries (new names, renames) to disk. Not supported everywhere: best effort. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Windows cannot open directories; there rename durability is the file system's business.
  } finally {
    await handle?.close();
  }
}

/** Write a file so that readers see either the old or the new content, never a partial one. */
export async function writeFileAtomic(path: string, data: string | Uint8Array, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, ownedName('write'));
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Remove a tree atomically from the point of view of readers: rename it into `trashDir` first (one step),
 * then delete at leisure. A crash during the delete leaves only an owned name in `trashDir`, which the
 * store's temp cleanup removes later. Resolves to false when `path` did not exist.
 */
export async function moveAsideAndRemove(path: string, trashDir: string, label: string): Promise<boolean> {
  await mkdir(trashDir, { recursive: true });
  const aside = join(trashDir, ownedName(label));
  try {
    await rename(path, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  await rm(aside, { recursive: true, force: true });
  return true;
}

export function isErrno(err: unknown, ...codes: string[]): boolean {
  return codes.includes((err as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** Errors that mean "this file system will not let us write here". */
export const READ_ONLY_CODES = ['EROFS', 'EACCES', 'EPERM'];

/**
 * A failed write inside the store `root` (read-only mount, missing permission) as an error that says so and
 * where; undefined for any other error.
 */
export function storeWriteError(err: unknown, root: string): PipeError | undefined {
  const e = err as NodeJS.ErrnoException | undefined;
  if (!e || !READ_ONLY_CODES.includes(e.code ?? '') || typeof e.path !== 'string') return undefined;
  const rel = relative(root, e.path);
  if (rel.startsWith('..') || isAbsolute(rel)) return undefined;
  const why = e.code === 'EROFS' ? 'it is on a read-only file system' : 'this user may not write there';
  return new PipeError(`cannot write to the artifact store ${root}: ${why} (${e.code} on ${rel || '.'})`, {
    exitCode: 1,
    hint: 'a stage that is not cached must write its outputs: point PIPE_ARTIFACTS (or the pipeline\'s cache:) at a writable folder, or make this one writable',
    cause: err,
  });
}
