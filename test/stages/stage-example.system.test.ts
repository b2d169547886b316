// The user-stage example from docs/stages.md runs as documented: a TypeScript stage loaded by path.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { readDataset, imageAt } from '../../src/data/image-dataset.js';
import { PIPE_BIN, REPO_ROOT } from '../../harness/toy-project.js';
import type { RunRecord } from '../../src/runs/record.js';

it('runs the documented invert stage from docs/examples', async () => {
  const store = await mkdtemp(join(tmpdir(), 'pipe-example-'));
  const result = spawnSync(process.execPath, [PIPE_BIN, 'run', 'docs/examples/invert.yaml', '--json'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, CI: 'true', PIPE_ARTIFACTS: store },
  });
  assert.equal(result.status, 0, result.stderr);
  const record = JSON.parse(result.stdout) as RunRecord;
  const before = await readDataset(join(store, record.stages.faces.outputs.data));
  const after = await readDataset(join(store, record.stages.inverted.outputs.data));
  const train = before.splitNames.indexOf('train');
  let inverted = 0;
  for (let row = 0; row < before.labels.length; row++) {
    const a = imageAt(before, row);
    const b = imageAt(after, row);
    const expectInverted = before.splitCodes[row] === train;
    if (expectInverted) inverted++;
    for (let i = 0; i < a.length; i += 97) assert.equal(b[i], expectInverted ? 255 - a[i] : a[i]);
  }
  assert.equal(record.stages.inverted.summary?.inverted, inverted);
  assert.ok(inverted > 0);
});
