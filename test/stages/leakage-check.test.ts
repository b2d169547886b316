// leakage-check on datasets with planted duplicates: counts per split pair, label conflicts, examples, failOn.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import leakageCheck from '../../stages/leakage-check.js';
import { runStage } from '../../harness/stage-harness.js';
import { writeDataset, type ImageDataset } from '../../src/data/image-dataset.js';
import type { LeakageReport, SplitPairFindings } from '../../src/formats/leakage.js';
import { PipeError } from '../../src/errors.js';

const SIZE = 3 * 3;
const SPLITS = ['train', 'validation', 'test'];
// Row → split code: rows 0–6 train, 7–9 validation, 10–14 test.
const SPLIT_OF = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2];

/** Distinct images, then `copies` applied as [targetRow, fromRow, label?, sameSource?]. */
function dataset(copies: [number, number, number?, boolean?][]): ImageDataset {
  const n = SPLIT_OF.length;
  const pixels = new Uint8Array(n * SIZE);
  for (let i = 0; i < n; i++) for (let p = 0; p < SIZE; p++) pixels[i * SIZE + p] = (i * 17 + p) % 256;
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 3);
  const source = Uint32Array.from({ length: n }, (_, i) => 100 + i);
  for (const [to, from, label, sameSource] of copies) {
    pixels.copyWithin(to * SIZE, from * SIZE, (from + 1) * SIZE);
    labels[to] = label ?? labels[from];
    if (sameSource) source[to] = source[from];
  }
  return { shape: [3, 3, 1], classes: ['a', 'b', 'c'], labels, pixels, splitNames: SPLITS, splitCodes: Int8Array.from(SPLIT_OF), source, metadata: {} };
}

async function check(ds: ImageDataset, failOn = 'none') {
  const path = join(await mkdtemp(join(tmpdir(), 'pipe-leakage-test-')), 'data.arrow');
  await writeDataset(path, ds);
  const result = await runStage(leakageCheck, { params: { failOn }, inputs: { data: path } });
  const report = JSON.parse(await readFile(result.outputs.report, 'utf8')) as LeakageReport & { failed: boolean };
  return { report, summary: result.summary as Record<string, any> };
}

function pair(report: LeakageReport, a: string, b: string): SplitPairFindings {
  const p = report.pairs.find((x) => x.splits[0] === a && x.splits[1] === b);
  assert.ok(p, `pair ${a}/${b} reported`);
  return p;
}

const PLANTED: [number, number, number?, boolean?][] = [
  [5, 0], //                 within train
  [10, 2, 0], //             train × test, label 2 vs 0: a conflict
  [8, 3], [11, 3], //        one image in train, validation and test
  [13, 12, undefined, true], // within test, a copy of the same source row (as over-sampling makes)
];

test('planted duplicates are counted per split pair, with label conflicts and examples', async () => {
  const { report, summary } = await check(dataset(PLANTED));
  assert.equal(report.rows, 15);
  assert.deepEqual(report.rowsPerSplit, { train: 7, validation: 3, test: 5 });
  assert.equal(report.duplicateGroups, 4);
  assert.equal(report.rowsInDuplicateGroups, 9);
  assert.equal(report.crossSplitGroups, 2);
  assert.equal(report.labelConflictGroups, 1);
  assert.equal(report.pairs.length, 6, 'every split with itself and every two splits');

  const withinTrain = pair(report, 'train', 'train');
  assert.deepEqual([withinTrain.kind, withinTrain.groups, withinTrain.rows, withinTrain.labelConflicts], ['within', 1, { train: 2 }, 0]);
  assert.deepEqual(withinTrain.examples[0].rows.map((r) => [r.row, r.source, r.split]), [[0, 100, 'train'], [5, 105, 'train']]);

  const trainTest = pair(report, 'train', 'test');
  assert.deepEqual([trainTest.kind, trainTest.groups, trainTest.rows, trainTest.labelConflicts], ['cross', 2, { train: 2, test: 2 }, 1]);
  const conflict = trainTest.examples.find((e) => e.labelConflict);
  assert.deepEqual(conflict?.rows.map((r) => [r.row, r.split, r.label]), [[2, 'train', 'c'], [10, 'test', 'a']]);

  assert.deepEqual([pair(report, 'train', 'validation').groups, pair(report, 'validation', 'test').groups], [1, 1]);
  assert.deepEqual(pair(report, 'train', 'validation').rows, { train: 1, validation: 1 });
  assert.equal(pair(report, 'validation', 'validation').groups, 0);

  const withinTest = pair(report, 'test', 'test');
  assert.deepEqual([withinTest.groups, withinTest.sameSourceGroups], [1, 1]);
  assert.equal(trainTest.sameSourceGroups, 0);

  assert.equal(report.failed, false);
  assert.equal(summary.duplicateGroups, 4);
  assert.deepEqual(summary.pairs['train×test'], { groups: 2, rows: { train: 2, test: 2 }, labelConflicts: 1 });
  assert.equal(summary.pairs['validation'], undefined, 'pairs without findings are left out of the summary');
});

test('a clean dataset reports zero everywhere and passes failOn: any', async () => {
  const { report } = await check(dataset([]), 'any');
  assert.equal(report.duplicateGroups, 0);
  assert.ok(report.pairs.every((p) => p.groups === 0 && p.examples.length === 0));
});

test('failOn turns findings into a failing stage', async () => {
  const isLeak = (pattern: RegExp) => (e: unknown) => e instanceof PipeError && e.exitCode === 1 && pattern.test(e.message);
  await assert.rejects(check(dataset(PLANTED), 'cross-split'), isLeak(/2 images shared between splits.*train×test: 2 groups/));
  await assert.rejects(check(dataset(PLANTED), 'any'), isLeak(/4 groups of duplicate images/));
  // Copies within one split only: not a cross-split leak, but still duplicates.
  const withinOnly = dataset([[5, 0], [13, 12]]);
  const { report } = await check(withinOnly, 'cross-split');
  assert.equal(report.crossSplitGroups, 0);
  await assert.rejects(check(withinOnly, 'any'), isLeak(/2 groups/));
});
