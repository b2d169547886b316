// Keys that recent runs used, read from the run records in <store>/runs/*/run.json (src/runs/record.ts).
// `pipe cache gc` always keeps them: the newest run of each pipeline (and its newest successful run) must
// stay reproducible from the cache even if the pipeline file changed since.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunRecord } from '../runs/record.js';

export async function keysOfLatestRuns(runsDir: string): Promise<Set<string>> {
  let ids: string[];
  try {
    ids = await readdir(runsDir);
  } catch {
    return new Set();
  }
  const records: RunRecord[] = [];
  for (const id of ids) {
    try {
      const record = JSON.parse(await readFile(join(runsDir, id, 'run.json'), 'utf8')) as RunRecord;
      if (record && typeof record === 'object' && record.stages && record.pipeline) records.push(record);
    } catch {
      // not a run, or one being written: it protects nothing
    }
  }
  const newest = new Map<string, RunRecord>();
  const newestOk = new Map<string, RunRecord>();
  const later = (a: RunRecord, b: RunRecord | undefined): boolean => !b || `${a.startedAt}${a.id}` > `${b.startedAt}${b.id}`;
  for (const record of records) {
    const pipeline = `${record.pipeline.file}\0${record.pipeline.name}`;
    if (later(record, newest.get(pipeline))) newest.set(pipeline, record);
    if (record.status === 'ok' && later(record, newestOk.get(pipeline))) newestOk.set(pipeline, record);
  }
  const keys = new Set<string>();
  for (const record of [...newest.values(), ...newestOk.values()]) {
    for (const stage of Object.values(record.stages)) if (typeof stage?.key === 'string') keys.add(stage.key);
  }
  return keys;
}
