// The quickstart as a new user runs it: every stage runs, the report shows accuracy clearly above chance,
// a second run runs nothing, and editing one layer makes only build, train, evaluate and report stale.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PIPE_BIN, REPO_ROOT } from '../../harness/toy-project.js';
import type { RunRecord } from '../../src/runs/record.js';

function pipe(args: string[], store: string) {
  return spawnSync(process.execPath, [PIPE_BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: store },
  });
}

function statuses(record: RunRecord): Record<string, string> {
  return Object.fromEntries(Object.entries(record.stages).map(([id, s]) => [id, s.status]));
}

describe('quickstart pipeline', () => {
  it('trains above chance, caches everything, and re-runs only the model stages after a layer edit', async () => {
    const store = await mkdtemp(join(tmpdir(), 'pipe-quickstart-'));
    const first = pipe(['run', 'pipelines/quickstart.yaml', '--json'], store);
    assert.equal(first.status, 0, first.stderr);
    const record = JSON.parse(first.stdout) as RunRecord;
    assert.ok(Object.values(record.stages).every((s) => s.status === 'ran'), JSON.stringify(statuses(record)));

    const metrics = JSON.parse(await readFile(join(store, record.stages.evaluate.outputs.metrics), 'utf8'));
    const accuracy = metrics.splits.test.accuracy as number;
    assert.ok(accuracy > 0.35, `test accuracy ${accuracy} should be clearly above chance (1/7 ≈ 0.14)`);
    const html = await readFile(join(store, record.stages.report.outputs.html), 'utf8');
    assert.match(html, /<svg/);
    assert.ok(existsSync(join(store, record.stages.report.outputs.markdown)));

    const second = pipe(['run', 'pipelines/quickstart.yaml', '--json'], store);
    assert.equal(second.status, 0, second.stderr);
    const again = statuses(JSON.parse(second.stdout) as RunRecord);
    assert.ok(Object.values(again).every((s) => s === 'cached'), JSON.stringify(again));

    // Edit one layer in a copy of the pipeline (same folder, so relative paths stay the same).
    const text = await readFile(join(REPO_ROOT, 'pipelines', 'quickstart.yaml'), 'utf8');
    const edited = text.replace('dense: { units: 64, activation: relu }', 'dense: { units: 48, activation: relu }');
    assert.notEqual(edited, text);
    const editedDir = await mkdtemp(join(tmpdir(), 'pipe-quickstart-edit-'));
    const editedFile = join(editedDir, 'quickstart.yaml');
    await writeFile(editedFile, edited);
    const status = pipe(['status', editedFile, '--json'], store);
    assert.equal(status.status, 0, status.stderr);
    const states = JSON.parse(status.stdout).stages as { id: string; cached: boolean; reasons: string[] }[];
    const stale = states.filter((s) => !s.cached).map((s) => s.id);
    assert.deepEqual(stale, ['build', 'train', 'evaluate', 'report']);
    assert.match(states.find((s) => s.id === 'build')!.reasons.join(), /params changed: build\.layers\[7\]\.dense\.units 64 → 48/);

    // Run the edit (one epoch keeps the test short): the data stages come from the cache.
    const third = pipe(['run', editedFile, '--json', '--set', 'train.epochs=1'], store);
    assert.equal(third.status, 0, third.stderr);
    assert.deepEqual(statuses(JSON.parse(third.stdout) as RunRecord), {
      faces: 'cached',
      leakage: 'cached',
      oversample: 'cached',
      normalise: 'cached',
      build: 'ran',
      train: 'ran',
      evaluate: 'ran',
      report: 'ran',
    });
  });
});
