// The report flags a protocol that leaks without any shared image: a real pipeline run (quickstart, made small)
// that trains on the split it then evaluates must not be told "No images shared between splits".
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PIPE_BIN, REPO_ROOT } from '../../harness/toy-project.js';
import type { RunRecord } from '../../src/runs/record.js';

function run(store: string, sets: string[]) {
  const args = ['run', 'pipelines/quickstart.yaml', '--json', '--set', 'faces.count=400', '--set', 'train.epochs=1', ...sets.flatMap((s) => ['--set', s])];
  const child = spawnSync(process.execPath, [PIPE_BIN, ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: store },
  });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as RunRecord;
}

test('a pipeline that trains on its test split gets a protocol leak in its report, an honest one does not', async () => {
  const store = await mkdtemp(join(tmpdir(), 'pipe-protocol-'));
  const honest = run(store, []);
  const honestSummary = await readFile(join(store, honest.stages.report.outputs.markdown), 'utf8');
  assert.doesNotMatch(honestSummary, /Leak in the protocol/);
  assert.match(honestSummary, /No images shared between splits/);

  const leaky = run(store, ['train.trainSplit=test']);
  const summary = await readFile(join(store, leaky.stages.report.outputs.markdown), 'utf8');
  assert.match(summary, /Leak in the protocol: the model was trained on 'test', the split it is scored on/);
  assert.doesNotMatch(summary, /No images shared between splits/);
  const html = await readFile(join(store, leaky.stages.report.outputs.html), 'utf8');
  assert.match(html, /role="alert"><strong>⚠ Leak in the protocol/);
  assert.equal((leaky.stages.report.summary as Record<string, unknown>).leaky, true);

  // Choosing the epoch on the scored split is flagged too.
  const selected = run(store, ['train.validationSplit=test']);
  assert.match(await readFile(join(store, selected.stages.report.outputs.markdown), 'utf8'), /best epoch was chosen on 'test'/);
});
