// The run log: one folder per run under <root>/runs/<run-id>/ holding run.json (src/runs/record.ts) and the
// run's JSON log. `pipe runs`, `pipe compare` and `pipe cache gc` read it; `pipe run` writes it.
import { join } from 'node:path';
import type { RunRecord } from '../runs/record.js';
import { latestOfEachGroup, latestRunOf, listRuns, outlineOf, readRun, stageKeys } from '../runs/read.js';
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
   * Keys that recent runs used: the newest run of each pipeline, each variant of its sweeps, and of the file as
   * it is, and the newest successful one of each, must stay reproducible from the cache even if the pipeline
   * file changed since, so `pipe cache gc` keeps them (see latestOfEachGroup).
   */
  async keysOfLatestRuns(): Promise<Set<string>> {
    return stageKeys(latestOfEachGroup((await this.list()).map(outlineOf)));
  }
}
