// The remote cache's objects in a shared folder that every machine mounts (NFS, SMB): file:///mnt/team-cache.
// The blob store of protocol.ts as file operations, safe with many readers and writers at once:
// - An object is written to a temp file in its own folder, flushed, then renamed over its name: a reader sees
//   the old file or all of the new one, never part of it (a rename within a folder is atomic, on NFS and SMB
//   too). A writer killed mid-way leaves its temp file (.tmp-<name>.<pid>.<host>.<random>); in blobs/, gc --remote
//   removes it once older than its grace window, like any file no entry names.
// - Keys come from the protocol, and each is checked again before it touches the disk: one that is no plain
//   relative path ('..', absolute, a backslash, percent-encoded) is refused, and so is one that leads out of the
//   folder through a symbolic link.
// - The folder itself must exist: a share that is not mounted must not pass for an empty cache.
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { PipeError } from '../../errors.js';
import { ownedName } from '../../owner.js';
import { pathInside, plainPathProblem } from '../../plain-path.js';
import { fsyncDir, isErrno, READ_ONLY_CODES } from '../fs-utils.js';
import type { BlobInfo, BlobSource, BlobStore } from './protocol.js';

/** The start of a temp file's name: no key of the protocol starts so. */
const TEMP = '.tmp-';

/** The folder of a file:// URL, or what is wrong with it. */
export function parseFolderUrl(url: string): { path: string } | string {
  const match = /^file:\/\/(\/.*)$/.exec(url);
  if (!match) return `'${url}' is not a file:// URL of a folder (expected file:///path/to/folder, e.g. file:///mnt/team-cache)`;
  const raw = match[1].replace(/(.)\/+$/, '$1');
  // URL parsing would quietly resolve '..' (and '%2e%2e') away: such a URL does not say what it seems to.
  if (raw.split('/').some((p) => p === '.' || p === '..') || /%(2e|2f|5c|00)/i.test(raw) || /[\\\x00-\x1f]/.test(raw)) {
    return `'${url}': the folder must be a plain absolute path (no '.' or '..' segment, no encoded '.', '/' or '\\')`;
  }
  try {
    return { path: fileURLToPath(`file://${raw}`) };
  } catch (err) {
    return `'${url}': ${(err as Error).message}`;
  }
}

export class FolderBlobStore implements BlobStore {
  private found?: Promise<void>;

  constructor(readonly root: string) {}

  /** The folder is there (checked once). */
  private ready(): Promise<void> {
    this.found ??= stat(this.root).then(
      (info) => {
        if (!info.isDirectory()) throw new Error(`${this.root} is not a folder`);
      },
      (err: unknown) => {
        throw isErrno(err, 'ENOENT', 'ENOTDIR') ? new Error(`the folder ${this.root} does not exist (is the share mounted?)`) : err;
      },
    );
    return this.found;
  }

  /** Where `key` lies in the folder; refused when it is no plain relative path, or leads out of the folder. */
  private async place(key: string): Promise<string> {
    await this.ready();
    const problem = key.includes('%') ? 'percent-encoded' : plainPathProblem(key);
    if (problem) throw new Error(`refused key '${key}' (${problem})`);
    const inside = await pathInside(this.root, key);
    if ('problem' in inside) throw new Error(`refused key '${key}' (it ${inside.problem})`);
    return inside.path;
  }

  async get(key: string, signal: AbortSignal): Promise<{ body: Readable; size: number } | undefined> {
    const path = await this.place(key);
    signal.throwIfAborted();
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return undefined;
      throw err;
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new Error(`refused key '${key}' (not a file)`);
      return { body: handle.createReadStream(), size: info.size };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async put(key: string, body: string | BlobSource, signal: AbortSignal): Promise<void> {
    const path = await this.place(key);
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, TEMP + ownedName(basename(path)));
    const handle = await open(temp, 'wx');
    try {
      if (typeof body === 'string') await handle.writeFile(body, { signal });
      else {
        for await (const chunk of addAbortSignal(signal, body.open()) as AsyncIterable<Uint8Array>) await handle.write(chunk);
        const { size } = await handle.stat();
        if (size !== body.size) throw new Error(`${key}: ${size} bytes written, ${body.size} expected (the file changed while it was copied)`);
      }
      await handle.sync();
      await handle.close();
      await rename(temp, path);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(temp, { force: true });
      throw err;
    }
    await fsyncDir(dir);
  }

  async head(key: string, signal: AbortSignal): Promise<boolean> {
    const path = await this.place(key);
    signal.throwIfAborted();
    try {
      return (await stat(path)).isFile();
    } catch (err) {
      if (isErrno(err, 'ENOENT', 'ENOTDIR')) return false;
      throw err;
    }
  }

  /** Every file under the prefix's folder, in one page; links and other special files are no objects. */
  async list(prefix: string, signal: AbortSignal): Promise<{ objects: BlobInfo[] }> {
    await this.ready();
    const cut = prefix.lastIndexOf('/');
    const folderKey = cut > 0 ? prefix.slice(0, cut) : '';
    const objects: BlobInfo[] = [];
    const visit = async (dir: string, keyPrefix: string): Promise<void> => {
      let items;
      try {
        items = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isErrno(err, 'ENOENT', 'ENOTDIR')) return;
        throw err;
      }
      signal.throwIfAborted();
      const files = items.filter((item) => item.isFile() && (keyPrefix + item.name).startsWith(prefix));
      const infos = await Promise.all(files.map((item) => stat(join(dir, item.name)).catch((err: unknown) => (isErrno(err, 'ENOENT') ? undefined : Promise.reject(err)))));
      files.forEach((item, i) => {
        const info = infos[i];
        if (info?.isFile()) objects.push({ key: keyPrefix + item.name, modified: info.mtime, size: info.size });
      });
      for (const item of items) if (item.isDirectory()) await visit(join(dir, item.name), `${keyPrefix}${item.name}/`);
    };
    await visit(folderKey ? await this.place(folderKey) : this.root, folderKey ? `${folderKey}/` : '');
    return { objects };
  }

  async delete(key: string, signal: AbortSignal): Promise<void> {
    const path = await this.place(key);
    signal.throwIfAborted();
    await rm(path, { force: true });
  }

  /**
   * With writes on, the folder must exist and take a file now, else a PipeError that says which folder and how
   * to fix it: a run that was told to share its builds should not quietly keep them to itself.
   */
  async checkWritable(url: string): Promise<void> {
    const where = `the remote cache ${url}`;
    const writesOff = 'or leave remote writes off (unset PIPE_REMOTE_CACHE_WRITE; pipe cache push and gc --remote always write)';
    let info;
    try {
      info = await stat(this.root);
    } catch (err) {
      if (!isErrno(err, 'ENOENT', 'ENOTDIR')) throw err;
      throw new PipeError(`${where}: the folder ${this.root} does not exist`, {
        hint: `mount the shared folder there, or create it (mkdir -p ${this.root}); ${writesOff}`,
      });
    }
    if (!info.isDirectory()) {
      throw new PipeError(`${where}: ${this.root} is not a folder`, { hint: `point PIPE_REMOTE_CACHE (or cache: { remote: }) at a folder: file:///path/to/folder; ${writesOff}` });
    }
    const probe = join(this.root, TEMP + ownedName('probe'));
    try {
      await (await open(probe, 'wx')).close();
      await rm(probe, { force: true });
    } catch (err) {
      if (!isErrno(err, ...READ_ONLY_CODES)) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      const why = code === 'EROFS' ? 'it is mounted read-only' : 'this user may not write there';
      throw new PipeError(`${where}: cannot write to the folder ${this.root}: ${why} (${code})`, {
        hint: `make it writable for this user (on NFS or SMB: the share's permissions, and a read-write mount); ${writesOff}`,
      });
    }
  }
}
