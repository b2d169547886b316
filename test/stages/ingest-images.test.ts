// ingest-images run for real on small PNG/JPEG trees made with sharp in a temp folder.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import ingestImages from '../../stages/ingest-images.js';
import { RecordBatchReader } from 'apache-arrow';
import { imageAt, readDataset } from '../../src/data/image-dataset.js';
import { PipeError } from '../../src/errors.js';
import { runStage } from '../../harness/stage-harness.js';
import { REPO_ROOT } from '../../harness/toy-project.js';

/** Deterministic grey 4x4 image bytes for an id. */
function grey(id: number): Uint8Array {
  return Uint8Array.from({ length: 16 }, (_, i) => (id * 37 + i * 11) % 256);
}

async function png(path: string, bytes: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<void> {
  await sharp(Buffer.from(bytes), { raw: { width, height, channels } }).png().toFile(path);
}

/** Temp folders made by these tests (inputs and the harness's output folders), removed at the end. */
const temporary: string[] = [];
after(() => Promise.all(temporary.map((dir) => rm(dir, { recursive: true, force: true }))));

async function ingest(params: Record<string, unknown>) {
  const result = await runStage(ingestImages, { params });
  temporary.push(join(result.outDir, '..'));
  return result;
}

/** Writes files {relative path: bytes-or-generator} under a fresh root and returns the root. */
async function tree(files: Record<string, (path: string) => Promise<void>>): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'pipe-ingest-images-test-'));
  temporary.push(root);
  for (const [rel, make] of Object.entries(files)) {
    await mkdir(join(root, rel, '..'), { recursive: true });
    await make(join(root, rel));
  }
  return root;
}

const greyPng = (id: number) => (path: string) => png(path, grey(id), 4, 4, 1);

async function ingestError(root: string, params: Record<string, unknown> = {}): Promise<PipeError> {
  try {
    await runStage(ingestImages, { params: { root, shape: [4, 4, 1], ...params } });
  } catch (err) {
    assert.ok(err instanceof PipeError, `expected a PipeError, got ${String(err)}`);
    return err;
  }
  assert.fail('ingest-images should have failed');
}

test('a split/class tree of grey PNGs round-trips exactly, ordered by split, class and file name', async () => {
  const root = await tree({
    'train/sad/b.png': greyPng(1),
    'train/happy/a.png': greyPng(2),
    'train/happy/c.PNG': greyPng(3),
    'test/sad/x.png': greyPng(4),
    'test/notes.txt': (p) => writeFile(p, 'not an image'),
  });
  const result = await ingest({ root, shape: [4, 4, 1] });
  const ds = await readDataset(result.outputs.data);
  assert.deepEqual(ds.classes, ['happy', 'sad']);
  assert.deepEqual(ds.splitNames, ['test', 'train']);
  const files = (await readFile(join(result.outDir, 'files.txt'), 'utf8')).trim().split('\n');
  assert.deepEqual(files, ['test/sad/x.png', 'train/happy/a.png', 'train/happy/c.PNG', 'train/sad/b.png']);
  assert.deepEqual([...ds.source], [1, 2, 3, 4]);
  assert.deepEqual([...ds.labels], [1, 0, 0, 1]);
  assert.deepEqual([...ds.splitCodes].map((c) => ds.splitNames[c]), ['test', 'train', 'train', 'train']);
  [4, 2, 3, 1].forEach((id, row) => assert.deepEqual(imageAt(ds, row), grey(id), `row ${row}`));
  const summary = result.summary as Record<string, any>;
  assert.deepEqual(summary.classCounts, { test: { happy: 0, sad: 1 }, train: { happy: 2, sad: 1 } });
  assert.equal(summary.ignored, 1);
});

test('explicit classes set the label order; colour images keep three channels; other sizes are resized', async () => {
  const rgb = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 5) % 256);
  const root = await tree({
    'train/b/one.png': (p) => png(p, rgb, 4, 4, 3),
    'train/a/big.jpg': async (p) => {
      await sharp({ create: { width: 10, height: 6, channels: 3, background: { r: 200, g: 10, b: 10 } } }).jpeg().toFile(p);
    },
  });
  const result = await ingest({ root, shape: [4, 4, 3], grayscale: false, classes: ['b', 'a'] });
  const ds = await readDataset(result.outputs.data);
  assert.deepEqual(ds.classes, ['b', 'a']);
  assert.deepEqual(ds.shape, [4, 4, 3]);
  assert.deepEqual([...ds.labels], [1, 0]); // train/a/big.jpg sorts first
  assert.deepEqual(imageAt(ds, 1), rgb);
  const red = imageAt(ds, 0);
  assert.ok(red[0] > 150 && red[1] < 60 && red[2] < 60, `resized JPEG stays red: ${[...red.subarray(0, 3)]}`);
});

test('errors: missing root, no images, images at the wrong depth', async () => {
  assert.match((await ingestError(join(tmpdir(), 'pipe-no-such-root'))).message, /root folder .*pipe-no-such-root does not exist/);
  const empty = await tree({ 'train/happy/readme.txt': (p) => writeFile(p, 'x') });
  const none = await ingestError(empty);
  assert.match(none.message, /no images \(\.jpg, \.jpeg, \.png\) found under/);
  assert.match(none.hint ?? '', /<root>\/<split>\/<class>\/<image>/);
  const stray = await tree({ 'a.png': greyPng(1), 'happy/b.png': greyPng(2) });
  assert.match((await ingestError(stray)).message, /holds images directly \(a\.png…\); images must sit in a folder per class/);
  const mixed = await tree({ 'happy/a.png': greyPng(1), 'test/sad/b.png': greyPng(2) });
  const both = await ingestError(mixed);
  assert.match(both.message, /mixes the two layouts: happy\/ holds images \(a class folder\) but test\/ holds folders \(a split folder\)/);
  const flat = await tree({ 'happy/a.png': greyPng(1) });
  const wrong = await ingestError(flat, { layout: 'splits' });
  assert.match(wrong.message, /happy holds images directly \(a\.png…\), so 'happy' is a class folder, not a split folder/);
  assert.match(wrong.hint ?? '', /layout: classes/);
});

test("<root>/<class>/<image> (Keras's layout): every row in split 'all', which the split stage divides, stratified", async () => {
  const files: Record<string, (path: string) => Promise<void>> = {};
  for (let i = 0; i < 10; i++) files[`happy/h${i}.png`] = greyPng(i);
  for (let i = 0; i < 20; i++) files[`sad/s${i}.png`] = greyPng(100 + i);
  files['sad/notes.txt'] = (p) => writeFile(p, 'not an image');
  const root = await tree(files);
  const result = await ingest({ root, shape: [4, 4, 1] });
  const ds = await readDataset(result.outputs.data);
  assert.deepEqual(ds.classes, ['happy', 'sad']);
  assert.deepEqual(ds.splitNames, ['all']);
  assert.equal(ds.labels.length, 30);
  assert.deepEqual(imageAt(ds, 0), grey(0));
  assert.equal((result.summary as { ignored: number }).ignored, 1);
  assert.equal((await readFile(join(result.outDir, 'files.txt'), 'utf8')).split('\n')[0], 'happy/h0.png');

  const { default: split } = await import('../../stages/split.js');
  const divided = await runStage(split, { params: { fractions: { train: 0.8, test: 0.2 } }, inputs: { data: result.outputs.data } });
  temporary.push(join(divided.outDir, '..'));
  const summary = divided.summary as { classCounts: Record<string, Record<string, number>> };
  assert.deepEqual(summary.classCounts, { train: { happy: 8, sad: 16 }, test: { happy: 2, sad: 4 } });
});

test('images stream to the file a batch at a time, in file order whatever order they decode in', async () => {
  const files: Record<string, (path: string) => Promise<void>> = {};
  // Sizes differ so that decodes finish out of order; rows must still follow the file names.
  for (let i = 0; i < 23; i++) files[`${i % 3 === 0 ? 'sad' : 'happy'}/${String(i).padStart(2, '0')}.png`] = (path) =>
      i % 2 ? png(path, Uint8Array.from({ length: 64 * 64 }, (_, k) => (k * i) % 256), 64, 64, 1) : png(path, grey(i), 4, 4, 1);
  const root = await tree(files);
  const whole = await readDataset((await ingest({ root, shape: [4, 4, 1], fit: 'fill' })).outputs.data);
  const result = await ingest({ root, shape: [4, 4, 1], fit: 'fill', rowsPerBatch: 5 });
  const batches = [...(await RecordBatchReader.from(await readFile(result.outputs.data)))].map((b) => b.numRows);
  assert.deepEqual(batches, [5, 5, 5, 5, 3]);
  const ds = await readDataset(result.outputs.data);
  assert.deepEqual(ds, whole, 'the same dataset as in one batch');
  assert.deepEqual([...ds.source], Array.from({ length: 23 }, (_, i) => i + 1));
  const listed = (await readFile(join(result.outDir, 'files.txt'), 'utf8')).trim().split('\n');
  assert.deepEqual(listed, [...listed].sort(), 'files.txt in name order, row k = line k');
  assert.deepEqual((result.summary as Record<string, any>).classCounts, { all: { happy: 15, sad: 8 } });
});

test('errors: an undecodable file is named; a class folder not in classes; shape and grayscale disagree', async () => {
  const broken = await tree({ 'train/happy/a.png': greyPng(1), 'train/happy/broken.png': (p) => writeFile(p, 'not a png') });
  assert.match((await ingestError(broken)).message, /cannot decode .*train\/happy\/broken\.png/);
  const extra = await tree({ 'train/happy/a.png': greyPng(1), 'test/angry/b.png': greyPng(2) });
  const unknown = await ingestError(extra, { classes: ['happy', 'sad'] });
  assert.match(unknown.message, /class folder .*test\/angry is not in classes/);
  const mismatch = await ingestError(extra, { shape: [4, 4, 3] });
  assert.match(mismatch.message, /has 3 channel\(s\) but grayscale is true/);
});

/** The dataset the three-image lists below describe (b: sad/train, sub/c: happy/test, a: happy/train), in list order. */
async function assertThreeImageList(result: { outputs: Record<string, string>; outDir: string }): Promise<void> {
  const ds = await readDataset(result.outputs.data);
  assert.deepEqual(ds.classes, ['happy', 'sad']);
  assert.deepEqual(ds.splitNames, ['train', 'test']);
  assert.deepEqual([...ds.labels], [1, 0, 0]);
  assert.deepEqual(imageAt(ds, 1), grey(3));
  assert.equal(await readFile(join(result.outDir, 'files.txt'), 'utf8'), 'img/b.png\nimg/sub/c.png\nimg/a.png\n');
}

test('a CSV list of image paths, labels and splits, columns by name, paths relative to the list and kept inside its folder', async () => {
  const root = await tree({ 'img/a.png': greyPng(1), 'img/b.png': greyPng(2), 'img/sub/c.png': greyPng(3) });
  await writeFile(join(root, 'labels.csv'), 'file,emotion,fold\nimg/b.png,sad,train\n"img/sub/c.png",happy,test\nimg/a.png,happy,train\n');
  const result = await ingest({ list: join(root, 'labels.csv'), shape: [4, 4, 1], columns: { path: 'file', label: 'emotion', split: 'fold' } });
  await assertThreeImageList(result);

  // Without a split column every row is in 'all'.
  await writeFile(join(root, 'plain.csv'), 'path,label\nimg/a.png,happy\n');
  assert.deepEqual((await readDataset((await ingest({ list: join(root, 'plain.csv'), shape: [4, 4, 1] })).outputs.data)).splitNames, ['all']);

  const outside = await tree({ 'secret.png': greyPng(9) });
  await writeFile(join(root, 'escape.csv'), `path,label\n../${outside.split('/').pop()}/secret.png,happy\n`);
  const escape = await ingestError(root, { root: undefined, list: join(root, 'escape.csv') });
  assert.match(escape.message, /escape\.csv:2: image '\.\.\/.*secret\.png' is outside the list's folder/);
  await writeFile(join(root, 'nolabel.csv'), 'path,kind\nimg/a.png,happy\n');
  const nolabel = await ingestError(root, { root: undefined, list: join(root, 'nolabel.csv') });
  assert.match(nolabel.message, /nolabel\.csv:1: no column 'label' in the image list/);
  assert.match(nolabel.hint ?? '', /its columns are: path, kind/);
  await writeFile(join(root, 'missing.csv'), 'path,label\nimg/zzz.png,happy\n');
  assert.match((await ingestError(root, { root: undefined, list: join(root, 'missing.csv') })).message, /missing\.csv:2: image 'img\/zzz\.png' not found/);

  // One source: pipe validate says so at the stage's params.
  const columns = { path: 'path', label: 'label', split: 'split' };
  const base = { shape: [4, 4, 1] as [number, number, number], grayscale: true, fit: 'cover' as const, layout: 'auto' as const, columns };
  assert.match(ingestImages.check!({ ...base })[0]?.message ?? '', /give root \(an image folder\) or list/);
  assert.match(ingestImages.check!({ ...base, root: 'a', list: 'b.csv' })[0]?.message ?? '', /not both/);
  assert.deepEqual(ingestImages.check!({ ...base, list: 'b.csv' }), []);
  // A channel count that grayscale contradicts, at the shape's channel entry.
  const [channels] = ingestImages.check!({ ...base, list: 'b.csv', shape: [4, 4, 3] });
  assert.deepEqual(channels?.at, ['shape', 2]);
  assert.match(channels?.message ?? '', /has 3 channel\(s\) but grayscale is true/);
  assert.deepEqual(ingestImages.check!({ ...base, list: 'b.csv', shape: [4, 4, 3], grayscale: false }), []);
});

test('a Parquet list reads as the CSV does: columns by name, numbers as labels, and says what it cannot read', async () => {
  // Written by pyarrow (test/fixtures/lists): snappy-compressed as pandas and pyarrow write by default.
  const fixture = (name: string) => join(REPO_ROOT, 'test', 'fixtures', 'lists', name);
  const root = await tree({ 'img/a.png': greyPng(1), 'img/b.png': greyPng(2), 'img/sub/c.png': greyPng(3) });
  for (const name of ['labels.parquet', 'numbered.parquet', 'zstd.parquet', 'nested.parquet']) await copyFile(fixture(name), join(root, name));
  const result = await ingest({ list: join(root, 'labels.parquet'), shape: [4, 4, 1], columns: { path: 'file', label: 'emotion', split: 'fold' } });
  await assertThreeImageList(result);

  // Class numbers as labels, no split column: the labels as text, in the order classes gives.
  const numbered = await readDataset((await ingest({ list: join(root, 'numbered.parquet'), shape: [4, 4, 1], classes: ['0', '1', '2', '3'] })).outputs.data);
  assert.deepEqual([...numbered.labels], [3, 0]);
  assert.deepEqual(numbered.splitNames, ['all']);

  const zstd = await ingestError(root, { root: undefined, list: join(root, 'zstd.parquet') });
  assert.match(zstd.message, /cannot read the columns path, label of .*zstd\.parquet: .*ZSTD/);
  assert.match(zstd.hint ?? '', /snappy/);
  assert.match((await ingestError(root, { root: undefined, list: join(root, 'nested.parquet') })).message, /nested\.parquet, row 1: column 'path' holds a list, not text/);
  await writeFile(join(root, 'fake.parquet'), 'path,label\nimg/a.png,happy\n');
  assert.match((await ingestError(root, { root: undefined, list: join(root, 'fake.parquet') })).message, /fake\.parquet is not a Parquet file that can be read/);
});
