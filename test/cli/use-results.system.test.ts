// Finding what a run produced and failing CI on it: latest/ links after a second run (symbolic links, and
// copies where links are not possible), the last lines of a run, `--json` paths, gates from --fail-if and
// from the pipeline, `pipe status --exit-code`, and plain-mode epoch lines. Real CLI, real tiny pipeline.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { before, describe, it } from 'node:test';
import type { RunRecord } from '../../src/runs/record.js';
import { hostTag } from '../../src/owner.js';
import { REPO_ROOT } from '../../harness/toy-project.js';
import { pipeWithStore, TINY_PIPELINE, type PipeRunner } from '../support/tiny-pipeline.js';

type JsonRun = RunRecord & { paths: { latest: Record<string, string>; outputs: Record<string, string>; record: string } };

describe('finding results and CI gates (tiny pipeline)', () => {
  let runner: PipeRunner;
  let first: JsonRun;
  let firstPlain: string;

  before(async () => {
    runner = await pipeWithStore();
    const run = runner.pipe(['run', TINY_PIPELINE]);
    assert.equal(run.status, 0, run.stderr);
    firstPlain = run.stdout;
    const again = runner.pipe(['run', TINY_PIPELINE, '--json']);
    assert.equal(again.status, 0, again.stderr);
    first = JSON.parse(again.stdout) as JsonRun;
  });

  it('prints one plain line per epoch naming the stage, and progress lines that name their stage', () => {
    const epochs = firstPlain.split('\n').filter((l) => /^ {2}train: epoch \d+\/2 · loss [\d.]+ · acc [\d.]+ · val_loss [\d.]+ · val_acc [\d.]+/.test(l));
    assert.equal(epochs.length, 2, firstPlain);
    const lines = firstPlain.split('\n');
    const live = lines.slice(0, lines.findIndex((l) => l.startsWith('tiny: ')));
    for (const line of live.filter((l) => l.startsWith('  '))) assert.match(line, /^ {2}[a-z][a-z0-9_-]*: /, `names its stage: ${line}`);
    assert.match(firstPlain, /✔ train \(train\) · done in/);
  });

  it("ends with the headline metrics and the latest/ paths relative to the working directory", () => {
    const lines = firstPlain.trimEnd().split('\n');
    const tail = lines.slice(lines.findIndex((l) => l.startsWith('tiny: 7 stages: 7 ran, 0 cached')));
    assert.match(tail[1], /^ {2}test accuracy [\d.]+% · balanced accuracy [\d.]+% · macro F1 [\d.]+$/);
    assert.match(tail[2], /^ {2}leakage: No images shared between splits$/);
    const latest = relative(REPO_ROOT, join(runner.store, 'latest', 'tiny'));
    for (const [label, name] of [['report', 'report.html'], ['metrics', 'metrics.json'], ['summary', 'summary.md'], ['model', 'model']]) {
      assert.ok(tail.some((l) => l.trim() === `${label.padEnd(7)}  ${join(latest, name)}`.trim()), `${label} line in:\n${tail.join('\n')}`);
    }
  });

  it('--json gives the paths relative to the working directory, and the headline metrics', async () => {
    assert.ok(Object.values(first.stages).every((s) => s.status === 'cached'));
    assert.equal(first.paths.latest['report.html'], relative(REPO_ROOT, join(runner.store, 'latest', 'tiny', 'report.html')));
    assert.equal(resolve(REPO_ROOT, first.paths.outputs['evaluate.metrics']), join(runner.store, first.stages.evaluate.outputs.metrics));
    assert.ok((await stat(resolve(REPO_ROOT, first.paths.record))).isFile());
    const metrics = JSON.parse(await readFile(join(runner.store, first.stages.evaluate.outputs.metrics), 'utf8'));
    assert.equal(first.metrics?.headline?.accuracy, metrics.splits.test.accuracy);
    assert.equal(first.metrics?.values['test.macroF1'], metrics.splits.test.macroF1);
    assert.equal(first.metrics?.leakage?.leaky, false);
  });

  it('after a second run with other params, latest/ links to the new run\'s outputs', async () => {
    const second = runner.pipe(['run', TINY_PIPELINE, '--json', '--set', 'train.epochs=1']);
    assert.equal(second.status, 0, second.stderr);
    const record = JSON.parse(second.stdout) as JsonRun;
    const dir = join(runner.store, 'latest', 'tiny');
    for (const [name, stage, output] of [
      ['report.html', 'report', 'html'],
      ['metrics.json', 'evaluate', 'metrics'],
      ['summary.md', 'report', 'markdown'],
      ['model', 'train', 'model'],
    ]) {
      const link = join(dir, name);
      assert.ok((await lstat(link)).isSymbolicLink(), `${name} is a link`);
      assert.ok(!(await readlink(link)).startsWith('/'), `${name} is a relative link (the store stays portable)`);
      assert.equal(await realpath(link), await realpath(join(runner.store, record.stages[stage].outputs[output])), name);
      assert.notEqual(record.stages[stage].outputs[output], first.stages[stage].outputs[output], `${name} changed with the params`);
    }
    assert.equal(JSON.parse(await readFile(join(dir, 'run.json'), 'utf8')).id, record.id);
  });

  it('pipe runs shows an experiment table: one row per run that executed something, the differing params, metrics', async () => {
    const table = runner.pipe(['runs', '--pipeline', 'tiny']);
    assert.equal(table.status, 0, table.stderr);
    const lines = table.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^run +pipeline +status +time +ran +train\.epochs +test acc +bal\. acc +macro F1 +leakage$/);
    const rows = lines.slice(1).filter((l) => / tiny /.test(l));
    assert.equal(rows.length, 2, table.stdout);
    assert.match(rows[0], / tiny +ok +.+? +3\/7 +1 +[\d.]+% +[\d.]+% +[\d.]+ +none$/);
    assert.match(rows[1], / tiny +ok +.+? +7\/7 +2 +[\d.]+% +[\d.]+% +[\d.]+ +none$/);
    assert.match(table.stdout, /\(1 runs that ran nothing are hidden; --all shows them\)/);
    const all = runner.pipe(['runs', '--pipeline', 'tiny', '--all', '--json']);
    const records = JSON.parse(all.stdout) as (RunRecord & { differs: Record<string, unknown> })[];
    assert.equal(records.length, 3);
    assert.deepEqual(records.map((r) => r.differs['train.epochs']), [1, 2, 2]);
    assert.equal(records[0].metrics?.headline?.split, 'test');
    const markdown = runner.pipe(['runs', '--pipeline', 'tiny', '--markdown']);
    assert.match(markdown.stdout, /^\| run \| pipeline \| status \| time \| ran \| train\.epochs \| test acc \|/);

    // A run killed before it could record its end: its process is gone, so it is interrupted, not running.
    const dead = spawnSync(process.execPath, ['-e', '']);
    const id = '2026-01-01T00-00-00-000Z-dead';
    await mkdir(join(runner.store, 'runs', id), { recursive: true });
    const killed = { ...records[1], id, startedAt: '2026-01-01T00:00:00.000Z', status: 'running', finishedAt: undefined, owner: { pid: dead.pid, host: hostTag() } };
    await writeFile(join(runner.store, 'runs', id, 'run.json'), JSON.stringify(killed));
    const listed = runner.pipe(['runs', '--pipeline', 'tiny']);
    assert.match(listed.stdout, new RegExp(`${id} +tiny +interrupted `));
    await rm(join(runner.store, 'runs', id), { recursive: true });
  });

  it('copies the files instead where symbolic links cannot be made (PIPE_LATEST=copy)', async () => {
    const run = runner.pipe(['run', TINY_PIPELINE, '--json'], { env: { PIPE_LATEST: 'copy' } });
    assert.equal(run.status, 0, run.stderr);
    const record = JSON.parse(run.stdout) as JsonRun;
    const dir = join(runner.store, 'latest', 'tiny');
    assert.ok(!(await lstat(join(dir, 'metrics.json'))).isSymbolicLink());
    assert.equal(await readFile(join(dir, 'metrics.json'), 'utf8'), await readFile(join(runner.store, record.stages.evaluate.outputs.metrics), 'utf8'));
    assert.ok((await lstat(join(dir, 'model'))).isDirectory());
    assert.deepEqual(
      await readFile(join(dir, 'model', 'weights.bin')),
      await readFile(join(runner.store, record.stages.train.outputs.model, 'weights.bin')),
    );
    // And back to links: a copied folder is replaced by a link.
    const back = runner.pipe(['run', TINY_PIPELINE]);
    assert.equal(back.status, 0, back.stderr);
    assert.ok((await lstat(join(dir, 'model'))).isSymbolicLink());
  });

  it('a failing --fail-if gate exits with code 3 and names the gate; a passing one exits 0', () => {
    const failing = runner.pipe(['run', TINY_PIPELINE, '--fail-if', 'test.accuracy <= 1', '--fail-if', 'test.macroF1 < 0']);
    assert.equal(failing.status, 3, failing.stderr);
    assert.match(failing.stderr, /gate failed: test\.accuracy <= 1 \(--fail-if\): the value is [\d.]+/);
    assert.doesNotMatch(failing.stderr, /test\.macroF1/);
    assert.match(failing.stdout, /gate FAILED: test\.accuracy <= 1 \(test\.accuracy = [\d.]+\)/);
    assert.match(failing.stdout, /gate passed: test\.macroF1 < 0/);
    const json = runner.pipe(['run', TINY_PIPELINE, '--json', '--fail-if', 'leakage.leaky == 1']);
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(
      (JSON.parse(json.stdout) as RunRecord).gates?.map((g) => [g.text, g.failed]),
      [['leakage.leaky == 1', false]],
    );
  });

  it('gates: in the pipeline fail the run the same way; bad gates are input errors (exit 2)', async () => {
    const text = await readFile(TINY_PIPELINE, 'utf8');
    const gated = join(REPO_ROOT, 'test', 'fixtures', 'use', `.gated-${process.pid}.yaml`);
    try {
      await writeFile(gated, text.replace('stages:', "gates:\n  failIf:\n    - test.balancedAccuracy < 100%\nstages:"));
      const run = runner.pipe(['run', gated]);
      assert.equal(run.status, 3, run.stderr);
      assert.match(run.stderr, /gate failed: test\.balancedAccuracy < 100% \(test\/fixtures\/use\/\.gated-\d+\.yaml gates\.failIf\[0\]\)/);

      await writeFile(gated, text.replace('stages:', 'gates:\n  failIf:\n    - test.accuracy is low\nstages:'));
      const bad = runner.pipe(['run', gated]);
      assert.equal(bad.status, 2);
      assert.match(bad.stderr, /\.gated-\d+\.yaml:7:7: error: 'test\.accuracy is low' is not a gate condition/);
    } finally {
      await import('node:fs/promises').then((fs) => fs.rm(gated, { force: true }));
    }
    const syntax = runner.pipe(['run', TINY_PIPELINE, '--fail-if', 'accuracy']);
    assert.equal(syntax.status, 2);
    assert.match(syntax.stderr, /--fail-if: 'accuracy' is not a gate condition/);
  });

  it('a gate naming a metric no stage reports is refused before anything runs, with the closest name', async () => {
    const runsBefore = (await readdir(join(runner.store, 'runs'))).length;
    // train.epochs=6 makes train stale: a run that got as far as training would print its epochs.
    const unknown = runner.pipe(['run', TINY_PIPELINE, '--set', 'train.epochs=6', '--fail-if', 'test.acuracy < 0.5']);
    assert.equal(unknown.status, 2, unknown.stderr);
    assert.match(unknown.stderr, /--fail-if 'test\.acuracy < 0\.5': no stage of this pipeline reports a metric 'test\.acuracy'/);
    assert.match(unknown.stderr, /hint: did you mean 'test\.accuracy'\?/);
    assert.doesNotMatch(unknown.stdout, /epoch/);
    assert.equal((await readdir(join(runner.store, 'runs'))).length, runsBefore, 'no run was started');
    const field = runner.pipe(['run', TINY_PIPELINE, '--dry-run', '--fail-if', 'train.bestValAcuracy < 0.1']);
    assert.equal(field.status, 2, field.stderr);
    assert.match(field.stderr, /did you mean 'train\.bestValAccuracy'\?/);
    const split = runner.pipe(['run', TINY_PIPELINE, '--dry-run', '--fail-if', 'validation.accuracy < 0.1']);
    assert.equal(split.status, 2, split.stderr);
    assert.match(split.stderr, /no stage of this pipeline reports a metric 'validation\.accuracy'/);
    // The names the stages declare are the names the run reports.
    for (const ok of ['test.macroF1 < 0', 'evaluate.test.loss > 100', 'train.bestValAccuracy < 0', 'leakage.leaky == 1', 'faces.rows < 1']) {
      const dry = runner.pipe(['run', TINY_PIPELINE, '--dry-run', '--fail-if', ok]);
      assert.equal(dry.status, 0, `${ok}: ${dry.stderr}`);
    }

    const text = await readFile(TINY_PIPELINE, 'utf8');
    const gated = join(REPO_ROOT, 'test', 'fixtures', 'use', `.gated-name-${process.pid}.yaml`);
    try {
      await writeFile(gated, text.replace('stages:', 'gates:\n  failIf:\n    - test.acuracy < 0.5\nstages:'));
      for (const command of ['validate', 'run']) {
        const bad = runner.pipe([command, gated]);
        assert.equal(bad.status, 2, bad.stderr);
        assert.match(bad.stderr, /\.gated-name-\d+\.yaml:7:7: error: gate 'test\.acuracy < 0\.5': no stage of this pipeline reports a metric 'test\.acuracy'/);
        assert.match(bad.stderr, /did you mean 'test\.accuracy'\?/);
      }
    } finally {
      await rm(gated, { force: true });
    }
  });

  it("gates against a baseline run compare with the baseline's value: a run id, a pipeline file or a run.json", async () => {
    const base = runner.pipe(['run', TINY_PIPELINE, '--json']);
    assert.equal(base.status, 0, base.stderr);
    const baseline = JSON.parse(base.stdout) as JsonRun;
    const accuracy = baseline.metrics!.values['test.accuracy'];

    const within = runner.pipe(['run', TINY_PIPELINE, '--fail-if', 'test.accuracy < baseline - 0.01', '--baseline', baseline.id]);
    assert.equal(within.status, 0, within.stderr);
    assert.match(within.stdout, new RegExp(`gate passed: test\\.accuracy < baseline - 0\\.01 \\(test\\.accuracy = [\\d.]+, the baseline's [\\d.]+ \\(run ${baseline.id}\\)\\)`));

    // No run can beat its own accuracy by 50 points: the gate fails, naming both values.
    const runJson = join(runner.store, 'latest', 'tiny', 'run.json');
    for (const target of [baseline.id.slice(0, -2), TINY_PIPELINE, runJson]) {
      const behind = runner.pipe(['run', TINY_PIPELINE, '--json', '--fail-if', 'test.accuracy < baseline + 50%', '--baseline', target]);
      assert.equal(behind.status, 3, `${target}: ${behind.stderr}`);
      assert.match(behind.stderr, /gate failed: test\.accuracy < baseline \+ 50% \(--fail-if\): the value is [\d.]+, the baseline's [\d.]+ \(run /);
      const gate = (JSON.parse(behind.stdout) as RunRecord).gates![0];
      assert.equal(gate.baseline?.value, accuracy);
      assert.equal(gate.failed, true);
    }

    const none = runner.pipe(['run', TINY_PIPELINE, '--fail-if', 'test.accuracy < baseline']);
    assert.equal(none.status, 2, none.stderr);
    assert.match(none.stderr, /compares with a baseline, and no --baseline was given/);

    // A baseline that lacks the metric (it stopped before evaluate) is refused before the run.
    const early = runner.pipe(['run', TINY_PIPELINE, '--json', '--until', 'train']);
    assert.equal(early.status, 0, early.stderr);
    const earlyId = (JSON.parse(early.stdout) as JsonRun).id;
    const lacking = runner.pipe(['run', TINY_PIPELINE, '--fail-if', 'test.accuracy < baseline', '--baseline', earlyId]);
    assert.equal(lacking.status, 2, lacking.stderr);
    assert.match(lacking.stderr, new RegExp(`run ${earlyId} has no metric 'test\\.accuracy'`));
  });

  it('a run that stops early (--until) updates the links it produced and keeps the newest of the others', async () => {
    const dir = join(runner.store, 'latest', 'tiny');
    const report = await realpath(join(dir, 'report.html'));
    const run = runner.pipe(['run', TINY_PIPELINE, '--json', '--until', 'train', '--set', 'train.epochs=3']);
    assert.equal(run.status, 0, run.stderr);
    const record = JSON.parse(run.stdout) as JsonRun;
    assert.equal(await realpath(join(dir, 'model')), await realpath(join(runner.store, record.stages.train.outputs.model)));
    assert.equal(await realpath(join(dir, 'report.html')), report);
    assert.deepEqual(Object.keys(record.paths.latest).sort(), ['model', 'run.json']);
  });

  it('pipe status --exit-code exits 1 when a stage is stale, 0 when everything is cached', () => {
    const cached = runner.pipe(['status', TINY_PIPELINE, '--exit-code']);
    assert.equal(cached.status, 0, cached.stderr);
    assert.match(cached.stdout, /everything cached/);
    const stale = runner.pipe(['status', TINY_PIPELINE, '--exit-code', '--set', 'train.epochs=4']);
    assert.equal(stale.status, 1, stale.stderr);
    assert.match(stale.stdout, /3 of 7 stages would run/);
    const plain = runner.pipe(['status', TINY_PIPELINE, '--set', 'train.epochs=4']);
    assert.equal(plain.status, 0, 'without --exit-code, stale is not an error');
  });
});
