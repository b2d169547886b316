// Paths that arrive as data (a cache manifest from another machine, a model.json's weights list, a checkpoint's
// manifest) name files inside one folder, and must never lead out of it. Every such path is checked here.
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';

/**
 * Why `path` is not a plain relative path ("a/b.bin": '/'-separated, no empty, '.' or '..' segment, no
 * backslash, colon (drive letter, URL scheme) or control character), or undefined when it is one.
 */
export function plainPathProblem(path: unknown): string | undefined {
  if (typeof path !== 'string' || path === '') return 'not a file name';
  if (path.length > 1024) return 'longer than 1024 characters';
  if (path.startsWith('/')) return 'an absolute path';
  if (path.includes('\\')) return 'has a backslash';
  if (path.includes(':')) return 'has a colon (a drive letter or URL scheme)';
  if (/[\x00-\x1f\x7f]/.test(path)) return 'has a control character';
  const parts = path.split('/');
  if (parts.includes('..')) return "has a '..' segment";
  if (parts.some((p) => p === '' || p === '.')) return "has an empty or '.' segment";
  return undefined;
}

/**
 * Where the plain relative `path` lies inside `folder`, or why it does not: besides the checks of
 * plainPathProblem, the part of it that exists must stay inside `folder` once symbolic links are resolved.
 */
export async function pathInside(folder: string, path: string): Promise<{ path: string } | { problem: string }> {
  const problem = plainPathProblem(path);
  if (problem) return { problem };
  const root = await realpath(folder);
  const target = join(folder, ...path.split('/'));
  // The deepest part that exists decides: a link there (or above it) may point anywhere.
  for (let existing = target; ; existing = dirname(existing)) {
    let real: string;
    try {
      real = await realpath(existing);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && existing !== folder) continue;
      throw err;
    }
    if (!isWithin(root, real)) return { problem: 'leads out of the folder through a symbolic link' };
    return { path: target };
  }
}

/** True when the resolved path `real` is the resolved folder `root` or lies below it. */
export function isWithin(root: string, real: string): boolean {
  const rel = relative(root, real);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith(`..${sep}`));
}

/**
 * Where `path` really is, symbolic links resolved, when that is inside the folder `root` (itself resolved);
 * undefined when it is outside or either does not exist. For paths that arrived as data: a link inside the folder
 * that points out of it is outside.
 */
export async function realPathInside(root: string, path: string): Promise<string | undefined> {
  const [realRoot, real] = await Promise.all([realpath(root).catch(() => undefined), realpath(path).catch(() => undefined)]);
  if (realRoot === undefined || real === undefined) return undefined;
  return isWithin(realRoot, real) ? real : undefined;
}
