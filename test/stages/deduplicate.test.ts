// deduplicate on real Arrow datasets with planted exact and near copies: what it removes from which split (and
// never from a split it was not asked to touch), merging within a split, its report with thumbnails, and the
// leakage check finding nothing across splits afterwards. The report stage shows what was removed.
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import deduplicate from '../../stages/deduplicate.js';
import leakageCheck from '../../stages/leakage-check.js';
import report from '../../stages/report.js';
import { planDeduplication } from '../../src/data/deduplication.js';
import { parseDeduplication, type DeduplicationReport } from '../../src/formats/deduplication.js';
import { readDataset, writeDataset, type ImageDataset } from '../../src/data/image-dataset.js';
import type { LeakageReport } from '../../src/formats/leakage.js';
import { PipeError } from '../../src/errors.js';
import { runStage } from '../../harness/stage-harness.js';

const SIDE = 24;
const SIZE = SIDE * SIDE;
const SPLITS = ['train', 'validation', 'test'];
// Rows 0–19 train, 20–24 validation, 25–29 test.
const SPLIT_OF = Array.from({ length: 30 }, (_, i) => (i < 20 ? 0 : i < 25 ? 1 : 2));

/** A smooth random image: a few bright blobs on a dark ground, different for every seed. */
function blobs(seed: number): Uint8Array {
  let s = seed * 2654435761;
  const random = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const image = new Uint8Array(SIZE);
  const centres = Array.from({ length: 4 }, () => [random() * SIDE, random() * SIDE, 2 + random() * 5, 80 + random() * 170]);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      let v = 20;
      for (const [cy, cx, r, a] of centres) v += a * Math.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r));
      image[y * SIDE + x] = Math.min(255, Math.round(v));
    }
  }
  return image;
}

/** The image moved one pixel right and made brighter: the same photo re-encoded, for the near-copy finder. */
function nearCopy(image: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIZE);
  for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) out[y * SIDE + x] = Math.min(255, image[y * SIDE + Math.max(0, x - 1)] + 8);
  return out;
}

const EXACT: [number, number][] = [
  [3, 26], //   train copies test
  [22, 27], //  validation copies test
  [12, 15], //  within train
  [28, 29], //  within test
];
const NEAR: [number, number][] = [[7, 21]]; // train copies validation, shifted and brighter

function plantedDataset(): ImageDataset {
  const n = SPLIT_OF.length;
  const pixels = new Uint8Array(n * SIZE);
  for (let i = 0; i < n; i++) pixels.set(blobs(i + 1), i * SIZE);
  for (const [to, from] of EXACT) pixels.copyWithin(to * SIZE, from * SIZE, (from + 1) * SIZE);
  for (const [to, from] of NEAR) pixels.set(nearCopy(pixels.subarray(from * SIZE, (from + 1) * SIZE)), to * SIZE);
  return {
    shape: [SIDE, SIDE, 1],
    classes: ['a', 'b', 'c'],
    labels: Uint8Array.from({ length: n }, (_, i) => i % 3),
    pixels,
    splitNames: SPLITS,
    splitCodes: Int8Array.from(SPLIT_OF),
    source: Uint32Array.from({ length: n }, (_, i) => i),
    metadata: {},
  };
}

async function datasetFile(ds: ImageDataset): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'pipe-dedup-test-')), 'data.arrow');
  await writeDataset(path, ds);
  return path;
}

async function deduplicated(params: Record<string, unknown>) {
  const input = await datasetFile(plantedDataset());
  const result = await runStage(deduplicate, { params, inputs: { data: input } });
  const out = await readDataset(result.outputs.data);
  const json = JSON.parse(await readFile(result.outputs.report, 'utf8')) as DeduplicationReport;
  return { result, out, json, kept: [...out.source] };
}

async function leakageOf(path: string): Promise<LeakageReport & { nearDuplicates: LeakageReport }> {
  const result = await runStage(leakageCheck, { inputs: { data: path } });
  return JSON.parse(await readFile(result.outputs.report, 'utf8'));
}

const crossGroups = (r: LeakageReport) => r.pairs.filter((p) => p.kind === 'cross').reduce((sum, p) => sum + p.groups, 0);

describe('deduplicate', () => {
  it('removes from train its exact and near copies of validation and test images, and nothing from other splits', async () => {
    const { out, json, kept, result } = await deduplicated({});
    const all = SPLIT_OF.map((_, i) => i);
    assert.deepEqual(kept, all.filter((i) => i !== 3 && i !== 7));
    assert.deepEqual(json.removedBySplit, { train: 2 });
    assert.deepEqual(json.removedByPair, { 'train × test': 1, 'train × validation': 1 });
    assert.equal(json.match, 'near');
    assert.equal(json.rowsAfter, 28);
    // The rows that remain are the input's, in order, pixels and all.
    const input = plantedDataset();
    kept.forEach((row, j) => assert.deepEqual(out.pixels.subarray(j * SIZE, (j + 1) * SIZE), input.pixels.subarray(row * SIZE, (row + 1) * SIZE)));
    const example = json.examples['train × test'][0];
    assert.deepEqual([example.removed.row, example.kept.row], [3, 26]);
    assert.match(example.thumbnail ?? '', /^data:image\/png;base64,/);
    assert.deepEqual(result.summary, { rowsBefore: 30, rowsAfter: 28, removed: 2, merged: 0, removedBySplit: { train: 2 }, removedByPair: json.removedByPair });

    // Train no longer shares an image with validation or test; validation and test still share theirs.
    const leakage = await leakageOf(result.outputs.data);
    assert.deepEqual(leakage.pairs.filter((p) => p.kind === 'cross' && p.groups > 0).map((p) => p.splits), [['validation', 'test']]);
    assert.equal(leakage.nearDuplicates.pairs.filter((p) => p.kind === 'cross' && p.splits.includes('train') && p.groups > 0).length, 0);
  });

  it("from [train, validation] with withinSplit leaves no copy across splits, and merges train's copies; test keeps its own", async () => {
    const { kept, json, result } = await deduplicated({ from: ['train', 'validation'], withinSplit: true });
    assert.deepEqual(kept, SPLIT_OF.map((_, i) => i).filter((i) => ![3, 7, 15, 22].includes(i)));
    assert.deepEqual(json.removedBySplit, { train: 2, validation: 1 });
    assert.deepEqual(json.mergedBySplit, { train: 1 });
    assert.equal(json.removedByPair['validation × test'], 1);
    const leakage = await leakageOf(result.outputs.data);
    assert.equal(crossGroups(leakage), 0);
    assert.equal(crossGroups(leakage.nearDuplicates), 0);
  });

  it('exact matching only, when near copies are switched off', async () => {
    const { kept } = await deduplicated({ nearDuplicates: { enabled: false } });
    assert.deepEqual(kept, SPLIT_OF.map((_, i) => i).filter((i) => i !== 3));
  });

  it('refuses a split the dataset does not have, naming those it has', async () => {
    const input = await datasetFile(plantedDataset());
    await assert.rejects(runStage(deduplicate, { params: { from: ['Training'] }, inputs: { data: input } }), (err: unknown) => {
      assert.ok(err instanceof PipeError);
      assert.match(err.message, /no split 'Training'/);
      assert.match(err.hint ?? '', /train, validation, test/);
      return true;
    });
  });

  it('the first split of from loses first; splits not listed lose nothing, whatever the group', () => {
    const ds = { labels: new Uint8Array(4), splitCodes: Int8Array.from([0, 1, 2, 2]), splitNames: SPLITS, classes: ['a'] };
    const plan = (group: number[], from: string[]) => [...planDeduplication(ds, [group], from, false).kept];
    assert.deepEqual(plan([0, 1, 2, 3], ['train']), [1, 2, 3]);
    assert.deepEqual(plan([0, 1, 2, 3], ['train', 'validation']), [2, 3]);
    // A copy shared by train and validation only: the split listed first gives it up.
    assert.deepEqual(plan([0, 1], ['train', 'validation']), [1, 2, 3]);
    assert.deepEqual(plan([0, 1], ['validation', 'train']), [0, 2, 3]);
    // Test loses its copies only when it is listed; its copies of each other stay without withinSplit.
    assert.deepEqual(plan([0, 2, 3], ['test']), [0, 1]);
    assert.deepEqual(plan([2, 3], ['train']), [0, 1, 2, 3]);
  });

  it('the report shows what was removed, with thumbnails; a thumbnail that is not a PNG data URL is dropped', async () => {
    const { result } = await deduplicated({});
    const html = await runStage(report, { inputs: { deduplication: result.outputs.report } });
    const page = await readFile(html.outputs.html, 'utf8');
    assert.match(page, /<h2[^>]*>Deduplication<\/h2>/);
    assert.match(page, /2 of 30 rows removed from train/);
    assert.equal((page.match(/<img src="data:image\/png;base64,/g) ?? []).length, 2);
    assert.match(await readFile(html.outputs.markdown, 'utf8'), /Deduplicated: 2 copies of images in other splits removed from train \(28 of 30 rows kept\)/);

    const json = JSON.parse(await readFile(result.outputs.report, 'utf8')) as DeduplicationReport;
    json.examples['train × test'][0].thumbnail = 'javascript:alert(1)';
    assert.equal(parseDeduplication(json, result.outputs.report).examples['train × test'][0].thumbnail, undefined);
    assert.throws(
      () => parseDeduplication({ ...json, format: 'other/1' }, result.outputs.report),
      (err: unknown) => err instanceof PipeError && err.message.includes("format must be 'pipe-deduplication/1'"),
    );
  });
});
