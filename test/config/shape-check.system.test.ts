// `pipe validate` and `pipe run` as a user runs them on a pipeline whose model takes other images than its data
// holds: both refuse it with the place, both shapes and a fix, and the run starts nothing.
import assert from 'node:assert/strict';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeToyProject, REPO_ROOT } from '../../harness/toy-project.js';

const MISMATCH = join(REPO_ROOT, 'test/fixtures/shapes/model-data-mismatch.yaml');

test('pipe validate and pipe run refuse a model whose input shape differs from the images, before anything runs', async (t) => {
  const project = await makeToyProject(await readFile(MISMATCH, 'utf8'));
  t.after(() => rm(project.dir, { recursive: true, force: true }));
  const before = await readdir(project.dir);
  for (const command of ['validate', 'run']) {
    const r = project.pipe([command, 'pipeline.yaml']);
    assert.equal(r.status, 2, `${command}: ${r.stdout}${r.stderr}`);
    assert.match(
      r.stderr,
      /^pipeline\.yaml:25:35: error: stage 'train' \(train\): the model takes 64×64×3 images \(from build: inputShape \[64, 64, 3\]\) but input 'data' holds 48×48×1 images \(from faces: size 48, grey\)\n/,
    );
    assert.ok(r.stderr.includes("hint: set build's inputShape to [48, 48, 1], or make the images of faces 64×64×3 (its size param)"), r.stderr);
    assert.match(r.stderr, /pipeline\.yaml:29:35: error: stage 'evaluate' \(evaluate\)/);
    if (command === 'validate') assert.match(r.stderr, /\n2 problems in pipeline\.yaml\n$/);
  }
  // Nothing ran: no store, no run record.
  assert.deepEqual(await readdir(project.dir), before);
  const fixed = project.pipe(['validate', 'pipeline.yaml', '--set', 'build.inputShape=[48, 48, 1]']);
  assert.equal(fixed.status, 0, fixed.stderr);
  assert.equal(fixed.stdout, 'ok: model-data-mismatch, 6 stages\n');
});
