// Sweep expansion and scheduling as pure functions: variant names and --set texts, a --sweep replacing the
// file's list for the same path, and the steps that build each shared key once before the variants run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { axesOfBlock, expandSweep, parseSweepFlag } from '../../src/config/sweep.js';
import { sweepSteps } from '../../src/run/sweep.js';
import { PipeError } from '../../src/errors.js';

describe('expandSweep', () => {
  it('is the cross product, first axis slowest, with names from the last path segment', () => {
    const variants = expandSweep([...axesOfBlock({ 'train.epochs': [4, 8] }), parseSweepFlag('train.optimizer.name=[adam, sgd]')]);
    assert.deepEqual(
      variants.map((v) => [v.name, v.sets]),
      [
        ['epochs=4,name=adam', ['train.epochs=4', 'train.optimizer.name="adam"']],
        ['epochs=4,name=sgd', ['train.epochs=4', 'train.optimizer.name="sgd"']],
        ['epochs=8,name=adam', ['train.epochs=8', 'train.optimizer.name="adam"']],
        ['epochs=8,name=sgd', ['train.epochs=8', 'train.optimizer.name="sgd"']],
      ],
    );
    assert.deepEqual(variants[3].values, { 'train.epochs': 8, 'train.optimizer.name': 'sgd' });
  });

  it('names list values by position, uses whole paths where last segments clash, and lets --sweep replace the file', () => {
    const variants = expandSweep([
      ...axesOfBlock({ 'build.layers[0].conv2d.filters': [8], 'train.epochs': [1, 2] }),
      parseSweepFlag('evaluate.splits=[[test], [validation, test]]'),
      parseSweepFlag('augment.filters=[16]'),
      parseSweepFlag('train.epochs=[3]'),
    ]);
    assert.deepEqual(
      variants.map((v) => v.name),
      ['build.layers[0].conv2d.filters=8,splits=#1,augment.filters=16,epochs=3', 'build.layers[0].conv2d.filters=8,splits=#2,augment.filters=16,epochs=3'],
    );
    assert.deepEqual(variants[1].sets[1], 'evaluate.splits=["validation","test"]');
    assert.deepEqual(expandSweep([]), []);
  });

  it('rejects a malformed flag and a value listed twice', () => {
    assert.throws(() => parseSweepFlag('train.epochs'), (e: unknown) => e instanceof PipeError && /expected path=\[value/.test(e.message));
    assert.throws(() => parseSweepFlag('train epochs=[1]'), /not a value path/);
    assert.throws(() => parseSweepFlag('train.epochs=[1'), /not valid YAML/);
    assert.throws(() => expandSweep([parseSweepFlag('train.epochs=[1, 2, 1]')]), /lists 1 twice/);
  });
});

describe('sweepSteps', () => {
  it('schedules each key that several variants share once, in the first variant that has it', () => {
    // Two sources (n=4, n=5), each shared by two variants; scale differs in every variant.
    const v = (name: string, source: string, scale: string) => ({ name, order: ['source', 'scale'], keys: { source, scale } });
    const steps = sweepSteps([v('a', 's4', 'x1'), v('b', 's5', 'x2'), v('c', 's4', 'x3'), v('d', 's5', 'x4')], ['scale']);
    assert.deepEqual(steps.shared, [
      { variant: 'a', only: ['source'], force: [], shared: true },
      { variant: 'b', only: ['source'], force: [], shared: true },
    ]);
    assert.deepEqual(
      steps.variants.map((s) => [s.variant, s.force]),
      [
        ['a', ['scale']],
        ['b', ['scale']],
        ['c', ['scale']],
        ['d', ['scale']],
      ],
    );
    // --force on everything forces a shared stage only in the step that builds it.
    const all = sweepSteps([v('a', 's', 'x1'), v('b', 's', 'x2')], 'all');
    assert.deepEqual(all.shared, [{ variant: 'a', only: ['source'], force: ['source'], shared: true }]);
    assert.deepEqual(all.variants.map((s) => s.force), [['scale'], ['scale']]);
  });
});
