// The run log: one folder per run under <root>/runs/<run-id>/ holding run.json (src/runs/record.ts) and the
// run's JSON log. `pipe runs`, `pipe compare` and `pipe cache gc` read it; `pipe run` writes it.
import { join } from 'node:path';
import type { RunRecord } from '../runs/record.js';
import { latestRunOf, listRuns, readRun } from '../runs/read.js';
import { runDir, writeRunRecord } from '../runs/write.js';

export class RunLog {
  /** `storeRoot` is the folder that holds runs/ (the local store's root). */
  constructor(readonly storeRoot: string) {}

  get dir(): string {
    return join(this.storeRoot, 'runs');
  }

  logFile(runId: string): string {
    return join(runDir(this.storeRoot, runId), 'log.jsonl');
  }

  write(record: RunRecord): Promise<void> {
    return writeRunRecord(this.storeRoot, record);
  }

  /** Every readable record, newest first. */
  list(): Promise<RunRecord[]> {
    return listRuns(this.storeRoot);
  }

  read(id: string): Promise<RunRecord> {
    return readRun(this.storeRoot, id);
  }

  latestOf(pipelineName: string): Promise<RunRecord | undefined> {
    return latestRunOf(this.storeRoot, pipelineName);
  }

  /**
   * Keys that recent runs used: the newest run of each pipeline and its newest successful run must stay
   * reproducible from the cache even if the pipeline file changed since, so `pipe cache gc` keeps them.
   */
  async keysOfLatestRuns(): Promise<Set<string>> {
    const newest = new Map<string, RunRecord>();
    const newestOk = new Map<string, RunRecord>();
    // list() is newest first: the first record seen of each pipeline is its newest.
    for (const record of await this.list()) {
      const pipeline = `${record.pipeline.file}\0${record.pipeline.name}`;
      if (!newest.has(pipeline)) newest.set(pipeline, record);
      if (record.status === 'ok' && !newestOk.has(pipeline)) newestOk.set(pipeline, record);
    }
    const keys = new Set<string>();
    for (const record of [...newest.values(), ...newestOk.values()]) {
      for (const stage of Object.values(record.stages)) if (typeof stage?.key === 'string') keys.add(stage.key);
    }
    return keys;
  }
}
