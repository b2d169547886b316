// `pipe plan`: the real CLI over a toy project. The JSON plan names each stage's key (the same key a run
// uses), whether it is cached or stale and why, what it waits on, and the runs-on labels it needs.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { makeToyProject, TOY_PIPELINE } from '../../harness/toy-project.js';
import type { PlanDocument } from '../../src/plan/plan-document.js';
import type { RunRecord } from '../../src/runs/record.js';

const WITH_LABELS = TOY_PIPELINE.replace('    inputs: { numbers: scale }\n', '    inputs: { numbers: scale }\n    runs-on: [gpu, big-mem]\n');

function planOf(stdout: string): PlanDocument {
  const doc = JSON.parse(stdout) as PlanDocument;
  assert.equal(doc.format, 'pipe-plan/1');
  return doc;
}

describe('pipe plan', () => {
  it('lists every stage with its key, state, reasons, what it waits on and its runs-on labels', async () => {
    assert.notEqual(WITH_LABELS, TOY_PIPELINE);
    const toy = await makeToyProject(WITH_LABELS);
    const first = toy.pipe(['plan', 'pipeline.yaml', '--json']);
    assert.equal(first.status, 0, first.stderr);
    const doc = planOf(first.stdout);
    assert.equal(doc.pipeline.name, 'toy');
    assert.equal(doc.pipeline.key, createHash('sha256').update(await readFile(toy.pipeline)).digest('hex'));
    assert.deepEqual(
      doc.stages.map((s) => [s.id, s.state, s.reasons, s.needs, s.runsOn]),
      [
        ['source', 'stale', ['never run'], [], []],
        ['scale', 'stale', ['never run'], ['source'], []],
        ['sum', 'stale', ['never run'], ['scale'], ['gpu', 'big-mem']],
        ['report', 'stale', ['never run'], ['sum'], []],
      ],
    );
    assert.equal(doc.stages[0].type, 'toy-source');
    assert.deepEqual(doc.stages[1].needsKeys, [doc.stages[0].key]);
    assert.deepEqual(doc.summary, { stages: 4, stale: 4, cachedLocal: 0, cachedRemote: 0 });
    assert.equal(doc.variants, undefined);

    // The keys are the ones a run stores its entries under, and after the run every stage is cached here.
    const ran = toy.pipe(['run', 'pipeline.yaml', '--json']);
    assert.equal(ran.status, 0, ran.stderr);
    const record = JSON.parse(ran.stdout) as RunRecord;
    assert.deepEqual(Object.fromEntries(doc.stages.map((s) => [s.id, s.key])), Object.fromEntries(Object.entries(record.stages).map(([id, s]) => [id, s.key])));
    const cached = planOf(toy.pipe(['plan', 'pipeline.yaml', '--json']).stdout);
    assert.ok(cached.stages.every((s) => s.state === 'cached-local' && s.reasons.length === 0), JSON.stringify(cached.stages));

    // A changed param makes that stage and what reads it stale, each with its reason; runs-on is not in the key.
    const changed = planOf(toy.pipe(['plan', 'pipeline.yaml', '--json', '--set', 'scale.factor=3']).stdout);
    assert.deepEqual(changed.pipeline.sets, ['scale.factor=3']);
    assert.deepEqual(
      changed.stages.map((s) => [s.id, s.state, s.reasons]),
      [
        ['source', 'cached-local', []],
        ['scale', 'stale', ['params changed: scale.factor 2 → 3']],
        ['sum', 'stale', ['input changed: scale']],
        ['report', 'stale', ['input changed: sum']],
      ],
    );
    const unlabelled = await makeToyProject();
    const plain = planOf(unlabelled.pipe(['plan', 'pipeline.yaml', '--json']).stdout);
    assert.deepEqual(plain.stages.map((s) => s.key), doc.stages.map((s) => s.key));

    const text = toy.pipe(['plan', 'pipeline.yaml', '--set', 'scale.factor=3']);
    assert.equal(text.status, 0, text.stderr);
    assert.match(text.stdout, /^cached-local\s+source \(toy-source\)$/m);
    assert.match(text.stdout, /^stale\s+sum \(toy-sum\)\s+after scale {2}runs-on: gpu, big-mem$/m);
    assert.match(text.stdout, /toy: 3 of 4 stages would run/);
  });

  it('rejects a runs-on label that is not a word, at its line', async () => {
    const toy = await makeToyProject(TOY_PIPELINE.replace('    inputs: { numbers: scale }\n', '    inputs: { numbers: scale }\n    runs-on: [gpu, "two words"]\n'));
    const result = toy.pipe(['plan', 'pipeline.yaml', '--json']);
    assert.equal(result.status, 2, result.stdout);
    assert.match(result.stderr, /pipeline\.yaml:\d+:\d+: error: .*runs-on/);
    assert.equal(result.stdout, '');
  });
});

describe('pipe plan with a sweep', () => {
  it('plans every variant and lists a stage the variants share once', async () => {
    const toy = await makeToyProject(`${TOY_PIPELINE}sweep:\n  scale.factor: [2, 3]\n`);
    const result = toy.pipe(['plan', 'pipeline.yaml', '--json', '--sweep', 'source.n=[4,5]']);
    assert.equal(result.status, 0, result.stderr);
    const doc = planOf(result.stdout);
    assert.deepEqual(
      doc.variants!.map((v) => [v.name, v.sets]),
      [
        ['factor=2,n=4', ['scale.factor=2', 'source.n=4']],
        ['factor=2,n=5', ['scale.factor=2', 'source.n=5']],
        ['factor=3,n=4', ['scale.factor=3', 'source.n=4']],
        ['factor=3,n=5', ['scale.factor=3', 'source.n=5']],
      ],
    );
    // source has two keys (n=4, n=5), scale, sum and report four each; each key once.
    const ids = doc.stages.map((s) => s.id);
    assert.deepEqual(ids.filter((id) => id === 'source').length, 2);
    assert.deepEqual(ids.filter((id) => id === 'scale').length, 4);
    assert.equal(new Set(doc.stages.map((s) => s.key)).size, doc.stages.length);
    const sourceN4 = doc.stages.find((s) => s.id === 'source' && s.key === doc.variants![0].stages.source)!;
    assert.deepEqual(sourceN4.variants, ['factor=2,n=4', 'factor=3,n=4']);
    // --variant picks one; its keys are those of the pipeline without the sweep, given the variant's --set texts.
    const one = planOf(toy.pipe(['plan', 'pipeline.yaml', '--json', '--sweep', 'source.n=[4,5]', '--variant', 'factor=3,n=5']).stdout);
    assert.deepEqual(one.variants, [doc.variants![3]]);
    const unswept = await makeToyProject();
    const bySets = planOf(unswept.pipe(['plan', 'pipeline.yaml', '--json', ...doc.variants![3].sets.flatMap((s) => ['--set', s])]).stdout);
    assert.deepEqual(Object.fromEntries(bySets.stages.map((s) => [s.id, s.key])), doc.variants![3].stages);
    const wrong = toy.pipe(['plan', 'pipeline.yaml', '--variant', 'factor=9']);
    assert.equal(wrong.status, 2);
    assert.match(wrong.stderr, /--variant factor=9: no such variant[\s\S]*factor=2 factor=3/);
  });

  it('says which --sweep is malformed', async () => {
    const toy = await makeToyProject();
    const result = toy.pipe(['plan', 'pipeline.yaml', '--sweep', 'scale.factor=3']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--sweep scale\.factor=3: expected a non-empty list of values/);
  });
});
