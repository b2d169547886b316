// Files of the store as the dashboard serves them. A path in a URL or in a run record arrived as data: it is
// followed only while it stays inside the store, symbolic links included (the target's real path is checked).
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * The real path of `path` (relative to the store root, '/'-separated) when it names a regular file inside the
 * store, else undefined: absolute paths, `..` segments, NUL bytes and links leading out are refused.
 */
export async function fileInStore(storeRoot: string, path: string): Promise<string | undefined> {
  if (path.includes('\0') || path.includes('\\') || isAbsolute(path)) return undefined;
  const segments = path.split('/');
  if (segments.some((s) => s === '..' || s === '.')) return undefined;
  try {
    const root = await realpath(storeRoot);
    const real = await realpath(resolve(storeRoot, path));
    const inside = relative(root, real);
    if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) return undefined;
    return (await stat(real)).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.jsonl': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.svg': 'image/svg+xml',
};

/** Content type of a store file by its extension; anything else is bytes to download. */
export function contentTypeOf(path: string): string {
  const dot = path.lastIndexOf('.');
  return (dot >= 0 && TYPES[path.slice(dot).toLowerCase()]) || 'application/octet-stream';
}
