// The ingest-csv stage on the real FER2013 file, when it is present next to the repository
// (../shared/data/fer2013.csv.gz); the file is never part of the repository. Checks the published counts.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ingestCsv from '../../stages/ingest-csv.js';
import { classCounts, readDataset } from '../../src/data/image-dataset.js';
import { runStage } from '../../harness/stage-harness.js';

// Compiled to dist/test/data/, so the repository root is three folders up.
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fer2013 = resolve(repoRoot, '..', 'shared', 'data', 'fer2013.csv.gz');

test('real FER2013: rows per split and per class', async (t) => {
  if (!existsSync(fer2013)) {
    t.skip(`FER2013 not found at ${fer2013}; put fer2013.csv.gz there to run this test`);
    return;
  }
  const result = await runStage(ingestCsv, { params: { path: fer2013 } });
  t.after(() => rm(resolve(result.outDir, '..'), { recursive: true, force: true }));
  const dataset = await readDataset(result.outputs.data);
  assert.equal(dataset.labels.length, 35_887);
  assert.deepEqual(dataset.splitNames, ['Training', 'PublicTest', 'PrivateTest']);
  const counts = classCounts(dataset);
  const perSplit = Object.fromEntries(Object.entries(counts).map(([s, c]) => [s, c.reduce((a, b) => a + b, 0)]));
  assert.deepEqual(perSplit, { Training: 28_709, PublicTest: 3_589, PrivateTest: 3_589 });
  const perClass = dataset.classes.map((_, k) => Object.values(counts).reduce((sum, c) => sum + c[k], 0));
  assert.deepEqual(Object.fromEntries(dataset.classes.map((c, k) => [c, perClass[k]])), {
    Angry: 4_953,
    Disgust: 547,
    Fear: 5_121,
    Happy: 8_989,
    Sad: 6_077,
    Surprise: 4_002,
    Neutral: 6_198,
  });
  // Rows keep the file's order: Training first, PrivateTest last; source is the CSV line number.
  assert.equal(dataset.source[0], 2);
  assert.equal(dataset.source[35_886], 35_888);
  assert.equal(dataset.splitNames[dataset.splitCodes[35_886]], 'PrivateTest');
  assert.equal((result.summary as Record<string, { count: number }>).skipped.count, 0);
});
