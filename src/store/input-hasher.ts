// The input hasher: content digests of the files and folders a pipeline reads (its path params), through the
// stat cache so that an unchanged 300 MB CSV is not read again.
import { stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { walkFiles } from './fs-utils.js';
import type { StatCache } from './stat-cache.js';

/** Files of a tree hashed at once (sha256File keeps as many read buffers). */
const FILES_AT_ONCE = 8;

export interface InputHasher {
  /** sha256 of a file's content. */
  hashFile(path: string): Promise<string>;
  /** Digest of a folder tree (see StatCacheHasher.hashDir). */
  hashDir(path: string): Promise<string>;
}

export class StatCacheHasher implements InputHasher {
  constructor(private readonly statCache: StatCache) {}

  async hashFile(path: string): Promise<string> {
    const { sha256 } = await this.statCache.hash(resolve(path));
    await this.statCache.save();
    return sha256;
  }

  /**
   * Digest of a folder tree: sha256 over "pipe-dir-v1\n" then, per file in code-point order of its relative
   * path, "<relative path with '/'>\0<file sha256>\n". Empty folders do not count; symbolic links are
   * followed.
   */
  async hashDir(path: string): Promise<string> {
    const root = resolve(path);
    const links: string[] = [];
    const tree = await walkFiles(root, (rel) => links.push(rel));
    for (const rel of links) {
      const st = await stat(join(root, ...rel.split('/'))).catch(() => undefined);
      if (st?.isFile()) tree.push({ rel, abs: join(root, ...rel.split('/')) });
    }
    tree.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    const digest = createHash('sha256').update('pipe-dir-v1\n');
    // A few files at a time, so a tree of small images is not bound by one read's latency after another.
    const hashes: string[] = new Array(tree.length);
    let next = 0;
    const hashNext = async (): Promise<void> => {
      while (next < tree.length) {
        const i = next++;
        hashes[i] = (await this.statCache.hash(tree[i].abs)).sha256;
      }
    };
    await Promise.all(Array.from({ length: Math.min(FILES_AT_ONCE, tree.length) }, hashNext));
    for (let i = 0; i < tree.length; i++) digest.update(`${tree[i].rel}\0${hashes[i]}\n`);
    await this.statCache.save();
    return digest.digest('hex');
  }
}
