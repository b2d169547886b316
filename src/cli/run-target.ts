// What `pipe compare`, `pipe export` and `pipe predict` accept as runs: a run id (or a unique prefix of one)
// in the store, or a pipeline file standing for its latest run in its own store (for a swept pipeline, the
// latest run of each variant).
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { PipeError } from '../errors.js';
import { latestOfSweep, readRun, runsOfFile } from '../runs/read.js';
import type { RunRecord } from '../runs/record.js';
import { storeRoot as rootOf } from '../store/open-store.js';

export function looksLikePipelineFile(target: string): boolean {
  return /\.ya?ml$/i.test(target);
}

export interface FoundRun {
  record: RunRecord;
  storeRoot: string;
}

/** The runs `target` names (one, or a sweep's variants) and the store they live in. `cache` is --cache. */
export async function findRuns(target: string, cache?: string): Promise<FoundRun[]> {
  const defaultRoot = rootOf({ flag: cache });
  if (!looksLikePipelineFile(target)) return [{ record: await readRun(defaultRoot, target), storeRoot: defaultRoot }];
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch {
    throw new PipeError(`pipeline file ${target} not found`, { hint: 'give a pipeline file, or a run id from `pipe runs`' });
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new PipeError(`${target} is not valid YAML: ${(err as Error).message}`, { hint: `pipe validate ${target}` });
  }
  const spec = (doc ?? {}) as { name?: unknown; cache?: unknown };
  if (typeof spec.name !== 'string' || !spec.name) {
    throw new PipeError(`${target} has no \`name:\`, so its runs cannot be found`, { hint: `pipe validate ${target}` });
  }
  // The same rule as `pipe run` (src/store/open-store.ts): --cache or $PIPE_ARTIFACTS, else the pipeline's own cache: folder.
  const dir = typeof spec.cache === 'string' ? resolve(dirname(target), spec.cache) : undefined;
  const storeRoot = rootOf({ flag: cache, pipeline: { dir } });
  const records = latestOfSweep(await runsOfFile(storeRoot, target, spec.name));
  if (records.length === 0) {
    throw new PipeError(`pipeline '${spec.name}' (${target}) has no runs in ${join(storeRoot, 'runs')}`, {
      hint: `run it first: pipe run ${target}`,
    });
  }
  return records.map((record) => ({ record, storeRoot }));
}

/** The one run `target` names: for a swept pipeline, the newest of its variants. */
export async function findRun(target: string, cache?: string): Promise<FoundRun> {
  const runs = await findRuns(target, cache);
  return runs.reduce((a, b) => (b.record.startedAt > a.record.startedAt ? b : a));
}
