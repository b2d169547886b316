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
import { cp, mkdir, readdir, rename, rm, symlink } from 'node:fs/promises';
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
  const targets = latestTargets(record);
  const copy = process.env.PIPE_LATEST === 'copy';
  const published: Partial<Record<LatestName, string>> = {};
  for (const [name, target] of Object.entries(targets) as [LatestName, string][]) {
    const link = join(dir, name);
    const temp = join(dir, `.${name}.${process.pid}.${randomBytes(3).toString('hex')}.tmp`);
    const absolute = join(storeRoot, ...target.split('/'));
    let linked = false;
    if (!copy) {
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
    published[name] = link;
  }
  for (const entry of await readdir(dir)) {
    // Temp files of a publisher that was killed (not of one still at work), and folder copies moved aside.
    const temp = /^\..+\.(\d+)\.[0-9a-f]+\.tmp$/.exec(entry);
    if ((temp && !isProcessAlive(Number(temp[1]))) || /\.old-[0-9a-f]{8}$/.test(entry)) await rm(join(dir, entry), { recursive: true, force: true });
  }
  return published;
}
