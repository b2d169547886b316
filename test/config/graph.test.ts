// Pure parts of the config layer: did-you-mean suggestions, input resolution, cycles and order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeFrame } from '../../src/config/code-frame.js';
import { findCycles, resolveInputs, topologicalOrder, type GraphStage } from '../../src/config/graph.js';
import { closest, editDistance } from '../../src/config/suggest.js';

test('edit distance counts a swapped pair of letters as one edit', () => {
  assert.equal(editDistance('trian', 'train'), 1);
  assert.equal(editDistance('epocs', 'epochs'), 1);
  assert.equal(editDistance('abc', 'abc'), 0);
  assert.equal(editDistance('', 'abc'), 3);
});

test('closest suggests only plausible typos', () => {
  assert.equal(closest('oversampel', ['oversample', 'undersample', 'split']), 'oversample');
  assert.equal(closest('Seed', ['seed', 'name']), 'seed');
  assert.equal(closest('xyz', ['seed', 'name']), undefined);
  assert.equal(closest('a', ['b', 'abc']), 'b');
});

const out = (file: string) => ({ file, description: file });
const stage = (refs: Record<string, string> | undefined, inputs: string[], outputs: string[], optional: string[] = []): GraphStage => ({
  uses: 'test',
  refs,
  inputs: Object.fromEntries(inputs.map((n) => [n, { description: n, optional: optional.includes(n) }])),
  outputs: Object.fromEntries(outputs.map((n) => [n, out(`${n}.arrow`)])),
});

test('a bare stage id means the output named like the input, else the only output', () => {
  const { inputs, problems } = resolveInputs({
    split: stage(undefined, [], ['train', 'test']),
    norm: stage({ data: 'split.train' }, ['data'], ['data']),
    evaluate: stage({ test: 'split', model: 'norm' }, ['test', 'model', 'extra'], ['metrics'], ['extra']),
  });

test('a bare stage id with several outputs means the only one of a kind the input accepts', () => {
  const dedup: GraphStage = {
    uses: 'deduplicate',
    outputs: { data: { file: 'data.arrow', description: '', kind: 'dataset' }, report: { file: 'deduplication.json', description: '', kind: 'deduplication' } },
  };
  const reader = (accepts?: string[]): GraphStage => ({ uses: 'report', refs: { removed: 'dedup' }, inputs: { removed: { description: '', accepts } }, outputs: {} });
  const picked = resolveInputs({ dedup, report: reader(['deduplication']) });
  assert.deepEqual(picked.problems, []);
  assert.deepEqual(picked.inputs.report, { removed: { stage: 'dedup', output: 'report' } });
  // An input that accepts any kind, or two outputs of its kinds, leaves the choice to the pipeline.
  for (const accepts of [undefined, ['dataset', 'deduplication']]) {
    const { problems } = resolveInputs({ dedup, report: reader(accepts) });
    assert.match(problems[0]?.message ?? '', /several outputs and none is named 'removed'/);
  }
});
  assert.deepEqual(problems, []);
  assert.deepEqual(inputs.evaluate, { test: { stage: 'split', output: 'test' }, model: { stage: 'norm', output: 'data' } });
  assert.deepEqual(inputs.norm, { data: { stage: 'split', output: 'train' } });
});

test('a stage whose module did not load is not checked, and references to it are not "unknown"', () => {
  const { problems } = resolveInputs({ broken: { uses: 'nope' }, user: stage({ data: 'broken.whatever' }, ['data'], ['data']) });
  assert.deepEqual(problems, []);
});

test('cycles are found once each, self-loops included, and order puts readers after what they read', () => {
  const edges = { a: ['c'], b: ['a'], c: ['b'], d: [], e: ['e'], f: ['d', 'b'] };
  assert.deepEqual(findCycles(edges), [['a', 'c', 'b'], ['e']]);
  assert.deepEqual(findCycles({ x: [], y: ['x'] }), []);
  assert.deepEqual(topologicalOrder({ late: ['mid'], mid: ['early'], early: [], other: [] }), ['early', 'mid', 'late', 'other']);
});

test('code frame marks the line and underlines the span', () => {
  const frame = codeFrame('a: 1\nbb: 2\nccc: 3\nd: 4\ne: 5\n', 3, 6, 1);
  assert.equal(frame, ['  1 | a: 1', '  2 | bb: 2', '> 3 | ccc: 3', '    |      ^', '  4 | d: 4'].join('\n'));
  assert.equal(codeFrame('key: value', 1, 6, 5), ['> 1 | key: value', '    |      ^^^^^'].join('\n'));
});
