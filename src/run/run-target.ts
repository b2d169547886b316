// What `pipe compare`, `pipe export` and `pipe predict` accept as runs: a run id (or a unique prefix of one)
// in the store, or a pipeline file in its own store. For a comparison the file stands for its latest run (when
// that is a sweep variant, the latest run of each variant of that sweep); for a model, the latest run of the
// file as it is (no --set or --sweep), so a sweep or a run with overrides never stands in for the file's own.
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { PipeError } from '../errors.js';
import { latestOfSweep, ranFileAsItIs, readRun, runsOfFile } from '../runs/read.js';
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
  if (!looksLikePipelineFile(target)) return [await runById(target, cache)];
  const { storeRoot, records } = await runsOfTarget(target, cache);
  return latestOfSweep(records).map((record) => ({ record, storeRoot }));
}

/**
 * The one run `target` names: for a pipeline file, its latest run of the file as it is (for a file with a
 * `sweep:` block, the newest of its latest sweep's variants).
 */
export async function findRun(target: string, cache?: string): Promise<FoundRun> {
  if (!looksLikePipelineFile(target)) return runById(target, cache);
  const { storeRoot, records, name } = await runsOfTarget(target, cache);
  const own = latestOfSweep(records.filter(ranFileAsItIs));
  if (own.length === 0) {
    throw new PipeError(`pipeline '${name}' (${target}) has no run of the file as it is in ${join(storeRoot, 'runs')}: its runs used --set or --sweep`, {
      hint: `name one of those runs by id (latest: ${records[0].id}; see \`pipe runs\`), or run the file as it is: pipe run ${target}`,
    });
  }
  return { record: own.reduce((a, b) => (b.startedAt > a.startedAt ? b : a)), storeRoot };
}

async function runById(id: string, cache?: string): Promise<FoundRun> {
  const storeRoot = rootOf({ flag: cache });
  return { record: await readRun(storeRoot, id), storeRoot };
}

/** The runs of a pipeline file, newest first (at least one), in its store. */
async function runsOfTarget(target: string, cache?: string): Promise<{ storeRoot: string; records: RunRecord[]; name: string }> {
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
  const records = await runsOfFile(storeRoot, target, spec.name);
  if (records.length === 0) {
    throw new PipeError(`pipeline '${spec.name}' (${target}) has no runs in ${join(storeRoot, 'runs')}`, {
      hint: `run it first: pipe run ${target}`,
    });
  }
  return { storeRoot, records, name: spec.name };
}
