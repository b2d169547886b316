// A store for looking at the dashboard: the tiny pipeline run three times (1, 3 and 2 epochs), each with a name and
// tags, one with a note. What the browser checks and the README's screenshots (npm run screenshots) are made from.
import assert from 'node:assert/strict';
import type { RunRecord } from '../../src/runs/record.js';
import { pipeWithStore, TINY_PIPELINE, type PipeRunner } from './tiny-pipeline.js';

export interface DashboardStore {
  runner: PipeRunner;
  /** In the order they ran. */
  runs: RunRecord[];
}

export async function tinyRunsStore(prefix = 'pipe-ui-'): Promise<DashboardStore> {
  const runner = await pipeWithStore(prefix);
  const runs: RunRecord[] = [];
  for (const [epochs, name, tags] of [
    [1, 'one epoch: a first look', ['smoke']],
    [3, 'three epochs', ['baseline', 'tiny']],
    [2, 'two epochs', ['tiny']],
  ] as const) {
    const run = runner.pipe(['run', TINY_PIPELINE, '--json', '--set', `train.epochs=${epochs}`, '--name', name, ...tags.flatMap((t) => ['--tag', t])]);
    assert.equal(run.status, 0, run.stderr);
    runs.push(JSON.parse(run.stdout) as RunRecord);
  }
  const note = runner.pipe(['runs', 'note', runs[1].id, 'best so far; val loss still falling at epoch 3']);
  assert.equal(note.status, 0, note.stderr);
  return { runner, runs };
}
