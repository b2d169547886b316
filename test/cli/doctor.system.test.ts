// `pipe doctor` tells which backends work here, and what `auto` picks, as a user would run it.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { nativePackage } from '../../src/tf/backend.js';
import { NATIVE_KERNELS } from '../../src/tf/native/kernels.js';
import { PIPE_BIN, REPO_ROOT } from '../../harness/toy-project.js';

test('pipe doctor reports every backend, why the missing ones are missing, and what auto resolves to', () => {
  const result = spawnSync(process.execPath, [PIPE_BIN, 'doctor', '--json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { auto: string; backends: { name: string; ok: boolean; details: string[] }[] };
  assert.deepEqual(report.backends.map((b) => b.name), ['tensorflow', 'wasm', 'cpu']);
  const byName = Object.fromEntries(report.backends.map((b) => [b.name, b]));
  assert.ok(byName.wasm.ok && byName.cpu.ok);
  assert.match(byName.wasm.details.join('\n'), /Conv2DBackpropFilter/);
  // Which library the convolutions (and on oneDNN pooling and batch norm) run on; CI installs oneDNN (.ci/run).
  const onednnRuns = `native kernels: oneDNN .* runs ${NATIVE_KERNELS.onednn.kernels.join(', ')} `;
  assert.match(byName.wasm.details.join('\n'), process.env.CI ? new RegExp(onednnRuns) : /native kernels: (oneDNN|OpenBLAS|none)/);
  if (nativePackage()) {
    assert.equal(report.auto, 'tensorflow');
  } else {
    assert.equal(report.auto, 'wasm');
    assert.equal(byName.tensorflow.ok, false);
    assert.match(byName.tensorflow.details.join('\n'), /not installed/);
  }
});
