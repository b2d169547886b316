// `<store>/latest/<pipeline name>/`: links to what a pipeline's newest run produced (report.html, metrics.json,
// summary.md, model/, run.json), so results are found without knowing any cache key. A sweep variant's runs
// link under `<store>/latest/<pipeline name>@<variant>/` instead, so that a sweep leaves the pipeline's own
// links alone and each variant's results are found by its name; a sweep's run of its shared stages links nothing.
//
// Which output is which is read from the run record alone (no stage is known by name): the last stage in
// pipeline order with an output file named like the link wins, so `train`'s model beats `build`'s.
// Each link is replaced atomically (a new link renamed over the old one), so a reader sees the old target or
// the new one, never neither. Links are relative, so a store that is copied or restored elsewhere keeps them.
// Where symbolic links cannot be made (some Windows and network file systems), or with PIPE_LATEST=copy, the
// files are copied instead.
import { randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, readlink, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { isProcessAlive } from '../owner.js';
import type { RunRecord } from './record.js';

export type LatestName = 'report.html' | 'metrics.json' | 'summary.md' | 'model' | 'leakage.json' | 'run.json';

/** Which output file each link points at, matched on the output's file name. */
const MATCHERS: Array<{ name: LatestName; matches(file: string): boolean }> = [
  { name: 'report.html', matches: (f) => f.endsWith('.html') },
  { name: 'metrics.json', matches: (f) => f === 'metrics.json' },
  { name: 'summary.md', matches: (f) => f === 'summary.md' },
  { name: 'model', matches: (f) => f === 'model' },
  { name: 'leakage.json', matches: (f) => f === 'leakage.json' },
];

/** `text` made safe as (part of) one path segment; '@' never survives, so it can separate name and variant. */
function safeSegment(text: string): string {
  return text.replace(/[^A-Za-z0-9._=,-]+/g, '-').replace(/^\.+/, '_');
}

/** The folder of a pipeline's latest links, or of one sweep variant's: `<name>` or `<name>@<variant>`. */
export function latestDir(storeRoot: string, pipelineName: string, variant?: string): string {
  return join(storeRoot, 'latest', safeSegment(pipelineName) + (variant === undefined ? '' : `@${safeSegment(variant)}`));
}

/** name → path relative to the store root, of what this run produced (or found in the cache). */
export function latestTargets(record: RunRecord): Partial<Record<LatestName, string>> {
  const found: Partial<Record<LatestName, string>> = {};
  for (const stage of Object.values(record.stages)) {
    if (stage.status !== 'ran' && stage.status !== 'cached') continue;
    for (const path of Object.values(stage.outputs)) {
      const file = basename(path.replace(/\/+$/, ''));
      for (const m of MATCHERS) if (m.matches(file)) found[m.name] = path;
    }
  }
  found['run.json'] = `runs/${record.id}/run.json`;
  return found;
}

function linkFailed(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS' || code === 'EACCES' || code === 'EINVAL';
}

/** Move `from` to `to`, replacing whatever is there (a folder copy cannot be renamed over; it moves aside first). */
async function replace(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EPERM' && code !== 'ENOTDIR') throw err;
    const aside = `${to}.old-${randomBytes(4).toString('hex')}`;
    await rename(to, aside);
    await rename(from, to);
    await rm(aside, { recursive: true, force: true });
  }
}

/** Make `<dir>/<name>` point at `target` (relative to the store root): a relative link, or a copy. */
async function placeLink(storeRoot: string, dir: string, name: LatestName, target: string): Promise<string> {
  const link = join(dir, name);
  const temp = join(dir, `.${name}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`);
  const absolute = join(storeRoot, ...target.split('/'));
  let linked = false;
  if (process.env.PIPE_LATEST !== 'copy') {
    try {
      await symlink(relative(dirname(link), absolute), temp, name === 'model' ? 'dir' : 'file');
      linked = true;
    } catch (err) {
      if (!linkFailed(err)) throw err;
    }
  }
  if (!linked) await cp(absolute, temp, { recursive: true });
  try {
    await replace(temp, link);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  return link;
}

/** Temp files of a publisher that was killed (not of one still at work), and folder copies moved aside. */
async function tidy(dir: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    const temp = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/.exec(entry);
    if ((temp && !isProcessAlive(Number(temp[1]))) || /\.old-[0-9a-f]{8}$/.test(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
}

/**
 * Point `<store>/latest/<pipeline>/` (a variant's: `<pipeline>@<variant>/`) at this run's outputs. A name the
 * run did not produce (a run with --until train writes no report) keeps pointing at the newest one an earlier
 * run made. Returns the absolute path of each link this run replaced.
 */
export async function publishLatest(storeRoot: string, record: RunRecord): Promise<Partial<Record<LatestName, string>>> {
  // A sweep's run of its shared stages is a step of the sweep, not a result (its model is untrained).
  if (record.sweep?.shared) return {};
  const dir = latestDir(storeRoot, record.pipeline.name, record.sweep?.variant);
  await mkdir(dir, { recursive: true });
  const published: Partial<Record<LatestName, string>> = {};
  for (const [name, target] of Object.entries(latestTargets(record)) as [LatestName, string][]) {
    published[name] = await placeLink(storeRoot, dir, name, target);
  }
  await tidy(dir);
  return published;
}

/** Whether a run published its outputs under latest/ (what publishRun does for a run that ended ok). */
function publishes(record: RunRecord): boolean {
  return record.status === 'ok' && !record.sweep?.shared;
}

/** The id of the run whose run.json `<dir>/run.json` is (a link to it, or a copy of it); undefined when there is none. */
async function linkedRun(dir: string): Promise<string | undefined> {
  const path = join(dir, 'run.json');
  try {
    const target = await readlink(path);
    return /(?:^|[\\/])runs[\\/]([^\\/]+)[\\/]run\.json$/.exec(target)?.[1];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code !== 'EINVAL' && code !== 'UNKNOWN') throw err;
  }
  // A copy (PIPE_LATEST=copy, or where links cannot be made).
  try {
    const id = (JSON.parse(await readFile(path, 'utf8')) as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * After the record of run `removedId` was deleted: each latest/ folder that points at it (its run.json is that
 * run's) is pointed at what the remaining runs of the folder (same pipeline name and variant, ended ok) made, as
 * if they had been published one after another: each link to the newest that made it. A link that no remaining
 * run made goes, and so does a folder left with none. Works from the folders, so a removed record that could
 * not be read is handled too. Returns each folder touched and the run it now points at (none: dropped).
 */
export async function relinkLatestAfterRemoval(storeRoot: string, removedId: string, remaining: RunRecord[]): Promise<Array<{ dir: string; run?: string }>> {
  let folders: string[];
  try {
    folders = (await readdir(join(storeRoot, 'latest'), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join(storeRoot, 'latest', e.name));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const touched: Array<{ dir: string; run?: string }> = [];
  for (const dir of folders) {
    if ((await linkedRun(dir)) !== removedId) continue;
    const same = remaining
      .filter((r) => r.id !== removedId && publishes(r) && latestDir(storeRoot, r.pipeline.name, r.sweep?.variant) === dir)
      .sort((a, b) => (a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.id < b.id ? -1 : 1));
    // Oldest first, so the newest run that made a name wins it.
    const targets: Partial<Record<LatestName, string>> = {};
    for (const r of same) Object.assign(targets, latestTargets(r));
    const names = Object.keys(targets) as LatestName[];
    if (names.length === 0) {
      await rm(dir, { recursive: true, force: true });
      touched.push({ dir });
      continue;
    }
    for (const name of names) await placeLink(storeRoot, dir, name, targets[name]!);
    for (const entry of await readdir(dir)) {
      if (!entry.startsWith('.') && !names.includes(entry as LatestName)) await rm(join(dir, entry), { recursive: true, force: true });
    }
    await tidy(dir);
    touched.push({ dir, run: same[same.length - 1].id });
  }
  return touched;
}
