// The run log: one folder per run under <root>/runs/<run-id>/ holding run.json (src/runs/record.ts) and the
// run's JSON log. `pipe runs`, `pipe compare` and `pipe cache gc` read it; `pipe run` writes it; `pipe runs
// note` and `pipe runs rm` change it.
//
// Every rewrite of a record holds the run's lock (<root>/locks/run-<id>.lock, the store's lock files), and the
// running `pipe run` keeps the notes already on disk when it rewrites its record: a note added while the run
// goes on is not lost at its next write.
import { join } from 'node:path';
import { PipeError } from '../errors.js';
import { relinkLatestAfterRemoval } from '../runs/latest.js';
import { checkNote } from '../runs/labels.js';
import type { RunNote, RunRecord } from '../runs/record.js';
import { latestOfEachGroup, latestRunOf, listRuns, outlineOf, readRecordAsWritten, readRun, resolveRun, stageKeys } from '../runs/read.js';
import { runDir, writeRunRecord } from '../runs/write.js';
import { moveAsideAndRemove } from './fs-utils.js';
import { withFileLock } from './lock.js';

export class RunLog {
  /** `storeRoot` is the folder that holds runs/ (the local store's root). */
  constructor(readonly storeRoot: string) {}

  get dir(): string {
    return join(this.storeRoot, 'runs');
  }

  logFile(runId: string): string {
    return join(runDir(this.storeRoot, runId), 'log.jsonl');
  }

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return withFileLock(join(this.storeRoot, 'locks'), `run-${id}`, {}, fn);
  }

  /** Write the record of a run in progress (or ended), keeping the notes its file already holds. */
  write(record: RunRecord): Promise<void> {
    return this.locked(record.id, async () => {
      const written = await readRecordAsWritten(this.storeRoot, record.id).catch(() => undefined);
      if (written?.notes?.length) record.notes = written.notes;
      await writeRunRecord(this.storeRoot, record);
    });
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

  /** Add a note to the run `given` names (its id or a unique start); resolves to its id and every note it has. */
  async addNote(given: string, text: string, now = new Date()): Promise<{ id: string; notes: RunNote[] }> {
    const note: RunNote = { at: now.toISOString(), text: checkNote(text) };
    const id = await resolveRun(this.storeRoot, given);
    return this.locked(id, async () => {
      const record = await readRecordAsWritten(this.storeRoot, id);
      if (!record) throw new PipeError(`run ${id} was removed meanwhile`, { hint: "'pipe runs' lists the runs" });
      record.notes = [...(Array.isArray(record.notes) ? record.notes : []), note];
      await writeRunRecord(this.storeRoot, record);
      return { id, notes: record.notes };
    });
  }

  /**
   * Remove the record (and log) of the run `given` names. Artifacts stay: the cache entries are `pipe cache gc`'s
   * to remove, by the records that remain. A latest/ folder that pointed at this run points at the newest
   * remaining one, or goes. A run still going is refused unless `force`.
   */
  async remove(given: string, force = false): Promise<{ id: string; record?: RunRecord; latest: Array<{ dir: string; run?: string }> }> {
    const id = await resolveRun(this.storeRoot, given);
    const record = await readRun(this.storeRoot, id).catch(() => undefined);
    if (record?.status === 'running' && !force) {
      const owner = record.owner ? ` (pid ${record.owner.pid}${record.host ? ` on ${record.host}` : ''})` : '';
      throw new PipeError(`run ${id} is still running${owner}`, {
        hint: 'stop it first (Ctrl-C), or add --force if its process is gone (a run on another machine that was killed)',
      });
    }
    await this.locked(id, () => moveAsideAndRemove(runDir(this.storeRoot, id), join(this.storeRoot, 'tmp'), 'run-rm'));
    const latest = await relinkLatestAfterRemoval(this.storeRoot, id, await this.list());
    return { id, ...(record ? { record } : {}), latest };
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
