// Near-duplicate detection on synthetic faces: copies re-encoded as JPEG, shifted by a pixel and brightened are
// found across splits, distinct faces are not; and leakage-check reports them per split pair with thumbnails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import leakageCheck from '../../stages/leakage-check.js';
import { runStage } from '../../harness/stage-harness.js';
import { writeDataset, type ImageDataset } from '../../src/data/image-dataset.js';
import { generateSyntheticFaces } from '../../src/data/synthetic-faces.js';
import { findNearDuplicateGroups, NEAR_DUPLICATE_DEFAULTS, perceptualHash } from '../../src/data/near-duplicates.js';
import type { LeakageReport } from '../../src/formats/leakage.js';

const SIDE = 48;
const SIZE = SIDE * SIDE;

async function reencoded(image: Uint8Array): Promise<Uint8Array> {
  const jpeg = await sharp(Buffer.from(image), { raw: { width: SIDE, height: SIDE, channels: 1 } }).jpeg({ quality: 70 }).toBuffer();
  const { data } = await sharp(jpeg).greyscale().raw().toBuffer({ resolveWithObject: true });
  return new Uint8Array(data);
}

/** Moved one pixel right and one down, the uncovered edge repeated. */
function shifted(image: Uint8Array): Uint8Array {
  const out = new Uint8Array(SIZE);
  for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) out[y * SIDE + x] = image[Math.max(0, y - 1) * SIDE + Math.max(0, x - 1)];
  return out;
}

const brightened = (image: Uint8Array) => image.map((v) => Math.min(255, Math.round(v * 1.15 + 20)));

/** 120 distinct synthetic faces (train/validation/test), with three altered copies of train faces placed in test. */
async function planted(): Promise<{ ds: ImageDataset; copies: Array<[number, number]> }> {
  const ds = await generateSyntheticFaces({ count: 120, imbalance: 'balanced', splits: { train: 0.8, validation: 0.1, test: 0.1 }, seed: 5, size: SIDE });
  const train = [...ds.splitCodes.keys()].filter((i) => ds.splitCodes[i] === 0);
  const test = [...ds.splitCodes.keys()].filter((i) => ds.splitCodes[i] === 2);
  const image = (i: number) => ds.pixels.subarray(i * SIZE, (i + 1) * SIZE);
  const alterations = [reencoded, async (x: Uint8Array) => shifted(x), async (x: Uint8Array) => brightened(x)];
  const copies: Array<[number, number]> = [];
  for (let k = 0; k < alterations.length; k++) {
    const [from, to] = [train[k * 7], test[k]];
    ds.pixels.set(await alterations[k](image(from)), to * SIZE);
    ds.labels[to] = ds.labels[from];
    copies.push([Math.min(from, to), Math.max(from, to)]);
  }
  return { ds, copies };
}

test('re-encoded, shifted and brightened copies are found; distinct faces are not', async () => {
  const { ds, copies } = await planted();
  for (const [a, b] of copies) {
    const image = (i: number) => ds.pixels.subarray(i * SIZE, (i + 1) * SIZE);
    assert.notDeepEqual(image(a), image(b), 'the copies are not byte-identical');
  }
  const result = await findNearDuplicateGroups(ds, NEAR_DUPLICATE_DEFAULTS);
  assert.deepEqual(result.pairs, copies, 'exactly the planted pairs are confirmed');
  assert.deepEqual(result.groups, copies.map((c) => [...c]));
  // The pixel check is what keeps look-alike faces apart: the hash alone proposes more pairs than it confirms.
  assert.ok(result.candidatePairs >= copies.length);
});

test('faces drawn from one template are not taken for copies at the default threshold', async () => {
  // The quickstart's faces: 3,000 of them, in which the closest distinct pair correlates 0.968.
  const ds = await generateSyntheticFaces({ count: 3000, imbalance: 'fer2013', splits: { train: 0.8, validation: 0.1, test: 0.1 }, seed: 42, size: SIDE });
  const result = await findNearDuplicateGroups(ds, NEAR_DUPLICATE_DEFAULTS);
  assert.ok(result.candidatePairs > 1000, 'the hash alone proposes many look-alikes');
  assert.deepEqual(result.pairs, []);

  // The search takes minutes on a large dataset: an abort from the event loop (as Ctrl-C's handler) stops it.
  const abort = new AbortController();
  const onProgress = (message: string) => void (message === 'searching for candidate pairs' && setImmediate(() => abort.abort()));
  await assert.rejects(findNearDuplicateGroups(ds, NEAR_DUPLICATE_DEFAULTS, onProgress, abort.signal), (err: unknown) => err === abort.signal.reason);
});

test('the hash ignores brightness and contrast and moves little under a one-pixel shift', async () => {
  const ds = await generateSyntheticFaces({ count: 2, imbalance: 'balanced', splits: { train: 1 }, seed: 9, size: SIDE });
  const face = ds.pixels.subarray(0, SIZE);
  const distance = (a: Uint8Array, b: Uint8Array) => {
    const [x, y] = [perceptualHash(a, SIDE, SIDE, 1), perceptualHash(b, SIDE, SIDE, 1)];
    return [x[0] ^ y[0], x[1] ^ y[1]].reduce((n, w) => n + w.toString(2).replaceAll('0', '').length, 0);
  };
  assert.equal(distance(face, face.map((v) => Math.round(v * 0.8 + 10))), 0);
  assert.ok(distance(face, shifted(face)) <= NEAR_DUPLICATE_DEFAULTS.maxDistance);
  assert.ok(distance(face, ds.pixels.subarray(SIZE)) > 0);
});

test('leakage-check reports near-duplicates per split pair with matched rows, label conflicts and thumbnails', async () => {
  const { ds } = await planted();
  // One of the copies gets another label: a near-duplicate label conflict.
  const testRows = [...ds.splitCodes.keys()].filter((i) => ds.splitCodes[i] === 2);
  ds.labels[testRows[1]] = (ds.labels[testRows[1]] + 1) % 7;
  const path = join(await mkdtemp(join(tmpdir(), 'pipe-near-test-')), 'data.arrow');
  await writeDataset(path, ds);
  const result = await runStage(leakageCheck, { params: {}, inputs: { data: path } });
  const report = JSON.parse(await readFile(result.outputs.report, 'utf8')) as LeakageReport & { nearDuplicates: LeakageReport & { maxDistance: number } };
  assert.equal(report.crossSplitGroups, 0, 'no exact copies');
  const near = report.nearDuplicates;
  assert.equal(near.maxDistance, NEAR_DUPLICATE_DEFAULTS.maxDistance, 'defaults apply to the nested params');
  const trainTest = near.pairs.find((p) => p.splits[0] === 'train' && p.splits[1] === 'test')!;
  assert.deepEqual([trainTest.groups, trainTest.labelConflicts, trainTest.matchedRows], [3, 1, { train: 3, test: 3 }]);
  assert.ok(near.pairs.filter((p) => p !== trainTest).every((p) => p.groups === 0));
  const thumbnail = trainTest.examples[0].thumbnail!;
  assert.match(thumbnail, /^data:image\/png;base64,/);
  const meta = await sharp(Buffer.from(thumbnail.split(',')[1], 'base64')).metadata();
  assert.deepEqual([meta.width, meta.height], [2 * 96 + 2, 96], 'two 48-pixel images at twice the size, 2 px apart');
  assert.deepEqual((result.summary as Record<string, any>).nearDuplicates.matchedRows, { 'train×test': { train: 3, test: 3 } });

  const off = await runStage(leakageCheck, { params: { nearDuplicates: { enabled: false } }, inputs: { data: path } });
  assert.equal(JSON.parse(await readFile(off.outputs.report, 'utf8')).nearDuplicates, undefined);
});
