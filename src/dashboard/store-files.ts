// Files of the store as the dashboard serves them. A path in a URL or in a run record arrived as data: it is
// followed only while it stays inside the store, symbolic links included (the target's real path is checked).
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { plainPathProblem, realPathInside } from '../plain-path.js';

/**
 * The real path of `path` (relative to the store root, '/'-separated) when it names a regular file inside the
 * store, else undefined: absolute paths, `..` segments, NUL bytes and links leading out are refused.
 */
export async function fileInStore(storeRoot: string, path: string): Promise<string | undefined> {
  if (plainPathProblem(path) !== undefined) return undefined;
  try {
    const real = await realPathInside(storeRoot, resolve(storeRoot, path));
    return real !== undefined && (await stat(real)).isFile() ? real : undefined;
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
