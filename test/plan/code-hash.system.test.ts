// Keys on what runs: a stage's code hash covers its modules' code, not their comments or formatting. A copy of
// the built CLI (inside the repository, so its packages resolve) is edited the ways a developer edits the
// training loop and the report, and `pipe plan --json` says which stages of the tiny pipeline would run again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { PlanDocument } from '../../src/plan/plan-document.js';
import { REPO_ROOT } from '../../harness/toy-project.js';
import { pipeWithStore, TINY_PIPELINE, type PipeRunner } from '../support/tiny-pipeline.js';

describe('stage code hashes count code, not comments', () => {
  let copy: string;
  let runner: PipeRunner;
  const pipeOfCopy = (args: string[]) => runner.pipe(args, { bin: join(copy, 'bin', 'pipe.js') });
  const stale = () => {
    const plan = pipeOfCopy(['plan', TINY_PIPELINE, '--json']);
    assert.equal(plan.status, 0, plan.stderr);
    return (JSON.parse(plan.stdout) as PlanDocument).stages.filter((s) => s.state === 'stale').map((s) => s.id);
  };
  /** Edits a module of the copy, runs `check`, and puts the module back. */
  const editing = async (module: string, edit: (text: string) => string, check: () => void) => {
    const file = join(copy, 'dist', module);
    const text = await readFile(file, 'utf8');
    const changed = edit(text);
    assert.notEqual(changed, text, `the edit changes ${module}`);
    await writeFile(file, changed);
    try {
      check();
    } finally {
      await writeFile(file, text);
    }
  };

  before(async () => {
    copy = await mkdtemp(join(REPO_ROOT, '.code-hash-'));
    for (const part of ['package.json', 'bin', 'dist/src', 'dist/stages']) await cp(join(REPO_ROOT, part), join(copy, part), { recursive: true });
    runner = await pipeWithStore('pipe-code-hash-');
    const run = pipeOfCopy(['run', TINY_PIPELINE]);
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(stale(), []);
  });
  after(async () => {
    await rm(copy, { recursive: true, force: true });
    await rm(runner.store, { recursive: true, force: true });
  });

  it('a comment-only edit to the training loop, and reformatting it, leave every stage cached', async () => {
    await editing(
      'src/train/loop.js',
      // Comments reworded, added and removed; declarations spaced out.
      (text) => `// A comment added on top.\n${text.replace(/^(\s*)\/\/ .*$/gm, '$1// reworded').replace(/^(\s*)(const|let) /gm, '$1$2   ')}/* one more */\n`,
      () => assert.deepEqual(stale(), []),
    );
  });

  it('a one-token change to the training loop re-runs train and what follows', async () => {
    await editing(
      'src/train/loop.js',
      (text) => `${text}\nexport const trainingLoopEdition = 2;\n`,
      () => assert.deepEqual(stale().sort(), ['evaluate', 'report', 'train']),
    );
  });

  it('a change in a module that only the report imports re-runs only the report', async () => {
    await editing('src/report/html.js', (text) => `${text}\nexport const reportEdition = 2;\n`, () => assert.deepEqual(stale(), ['report']));
  });
});
