// The Arrow image dataset file: written in record batches (one array of every pixel cannot pass 2^31 bytes),
// read back batch by batch from disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordBatchReader, tableFromIPC, tableToIPC } from 'apache-arrow';
import {
  classCounts,
  copyRows,
  openDatasetReader,
  openDatasetWriter,
  readDataset,
  rowsPerBatch,
  selectRows,
  writeDataset,
  type ImageDataset,
} from '../../src/data/image-dataset.js';

function dataset(rows: number): ImageDataset {
  const shape: [number, number, number] = [4, 3, 2];
  const pixels = new Uint8Array(rows * 24);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31 + 7) & 255;
  return {
    shape,
    classes: ['calm', 'cross'],
    labels: Uint8Array.from({ length: rows }, (_, i) => i % 2),
    pixels,
    splitNames: ['train', 'validation', 'test'],
    splitCodes: Int8Array.from({ length: rows }, (_, i) => i % 3),
    source: Uint32Array.from({ length: rows }, (_, i) => 1000 + i),
    metadata: { 'pipe.note': '"kept"' },
  };
}

test('a dataset of more rows than a batch is written as several record batches and reads back the same', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-dataset-'));
  try {
    const ds = dataset(1001);
    const file = join(dir, 'data.arrow');
    await writeDataset(file, ds, { rowsPerBatch: 100 });
    const reader = await RecordBatchReader.from(await readFile(file));
    assert.equal([...reader].length, 11, 'ceil(1001 / 100) batches');
    const back = await readDataset(file);
    assert.deepEqual(back, ds);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('rows per batch keep a batch near 64 MiB of pixels, and never zero', () => {
  assert.equal(rowsPerBatch([48, 48, 1]), Math.floor((64 * 1024 * 1024) / 2304));
  assert.equal(rowsPerBatch([4096, 4096, 4]), 1);
  assert.equal(rowsPerBatch([1, 1, 1]), 65_536);
});

test('an empty dataset writes one empty batch that keeps the schema, and reads back empty', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-dataset-'));
  try {
    const file = join(dir, 'data.arrow');
    await writeDataset(file, dataset(0));
    const back = await readDataset(file);
    assert.equal(back.labels.length, 0);
    assert.deepEqual(back.classes, ['calm', 'cross']);
    assert.deepEqual(back.splitNames, ['train', 'validation', 'test']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a dataset in the Arrow stream format, as another tool may write it, still reads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-dataset-'));
  try {
    const ds = dataset(50);
    const fileFormat = join(dir, 'file.arrow');
    await writeDataset(fileFormat, ds, { rowsPerBatch: 7 });
    const stream = join(dir, 'stream.arrows');
    await writeFile(stream, tableToIPC(tableFromIPC(await readFile(fileFormat)), 'stream'));
    assert.deepEqual(await readDataset(stream), ds);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Rows start..end of `ds` as fresh arrays, as an ingest hands them to the writer. */
function slice(ds: ImageDataset, start: number, end: number) {
  const part = selectRows(ds, Array.from({ length: end - start }, (_, i) => start + i));
  return { labels: part.labels, pixels: part.pixels, splitCodes: part.splitCodes, source: part.source };
}

test('the streaming writer takes rows in pieces of any size, cuts them into batches, and writes what writeDataset writes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-dataset-'));
  try {
    const ds = dataset(53);
    const streamed = join(dir, 'streamed.arrow');
    const writer = await openDatasetWriter(streamed, ds, { rowsPerBatch: 10 });
    for (const [start, end] of [[0, 25], [25, 26], [26, 26], [26, 53]]) await writer.append(slice(ds, start, end));
    assert.equal(writer.rows, 53);
    assert.deepEqual(writer.counts, Object.values(classCounts(ds)), 'rows per split code and class');
    await writer.close();
    const batches = [...(await RecordBatchReader.from(await readFile(streamed)))].map((b) => b.numRows);
    assert.deepEqual(batches, [10, 10, 5, 1, 10, 10, 7], 'each piece cut at 10 rows; an empty piece adds nothing');
    assert.deepEqual(await readDataset(streamed), ds);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('split names declared ahead keep only those rows have when read; a writer with no rows writes an empty dataset', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-dataset-'));
  try {
    const ds = dataset(12);
    const file = join(dir, 'declared.arrow');
    // Declared: train, validation, test; the rows use only train (0) and test (2).
    const writer = await openDatasetWriter(file, { ...ds, declaredSplits: true }, { rowsPerBatch: 5 });
    const rows = slice(ds, 0, 12);
    rows.splitCodes = Int8Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 2 : 0));
    await writer.append(rows);
    await writer.close();
    const back = await readDataset(file);
    assert.deepEqual(back.splitNames, ['train', 'test']);
    assert.deepEqual([...back.splitCodes], Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? 1 : 0)));
    assert.deepEqual(back.metadata, { 'pipe.note': '"kept"' }, 'the marker is not carried on');
    const table = tableFromIPC(await readFile(file));
    assert.deepEqual(table.getChild('split')!.toArray().slice(0, 2), ['test', 'train'], 'other Arrow readers see the names too');

    const empty = join(dir, 'empty.arrow');
    const none = await openDatasetWriter(empty, ds);
    await none.close();
    const read = await readDataset(empty);
    assert.equal(read.labels.length, 0);
    assert.deepEqual(read.splitNames, ['train', 'validation', 'test'], 'names not declared ahead stay, rows or not');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the writer refuses a split code or label outside its names, and an aborted writer leaves no open file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-dataset-'));
  try {
    const ds = dataset(3);
    const writer = await openDatasetWriter(join(dir, 'bad.arrow'), ds);
    const rows = slice(ds, 0, 3);
    rows.splitCodes[1] = 3;
    await assert.rejects(writer.append(rows), /row 1: split code 3 is not one of 3 split names/);
    const labels = slice(ds, 0, 3);
    labels.labels[2] = 2;
    await assert.rejects(writer.append(labels), /row 2: label 2 is not one of 2 classes/);
    await writer.abort();
    await assert.rejects(writer.append(slice(ds, 0, 1)), /closed/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a reader holds the small columns of every row and reads any batch alone; copyRows gathers rows in any order', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-dataset-'));
  try {
    const ds = dataset(250);
    const file = join(dir, 'data.arrow');
    await writeDataset(file, ds, { rowsPerBatch: 7 });
    const reader = await openDatasetReader(file);
    try {
      assert.equal(reader.rows, 250);
      assert.equal(reader.batchCount, 36, 'ceil(250 / 7) batches');
      assert.deepEqual(reader.header, { shape: ds.shape, classes: ds.classes, splitNames: ds.splitNames, metadata: ds.metadata });
      assert.deepEqual(reader.columns, { labels: ds.labels, splitCodes: ds.splitCodes, source: ds.source });
      assert.equal(reader.batchOf(0), 0);
      assert.equal(reader.batchOf(249), 35);
      assert.equal(reader.batchStart(reader.batchOf(100)), 98);
      assert.throws(() => reader.batchOf(250), RangeError);
      // Batches out of order, each the rows it says.
      for (const b of [20, 3, 35, 3]) {
        const rows = await reader.batch(b);
        const start = reader.batchStart(b);
        const part = slice(ds, start, reader.batchStart(b + 1));
        assert.deepEqual({ ...rows, pixels: Uint8Array.from(rows.pixels) }, part, `batch ${b}`);
      }
      // Picks from anywhere, repeats included, come out as selectRows makes them, in writeDataset's batches.
      const picks = Uint32Array.from({ length: 400 }, (_, j) => (j < 250 ? j : (j * 7919) % 250));
      const out = join(dir, 'picked.arrow');
      const writer = await openDatasetWriter(out, reader.header, { rowsPerBatch: 7 });
      const seen: number[] = [];
      await copyRows(reader, writer, { picks, onBatch: (copied) => void seen.push(copied) });
      await writer.close();
      assert.equal(seen[0], 0);
      const expected = join(dir, 'expected.arrow');
      await writeDataset(expected, selectRows(ds, picks), { rowsPerBatch: 7 });
      assert.deepEqual(await readFile(out), await readFile(expected), 'byte for byte the file selectRows and writeDataset make');
    } finally {
      await reader.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a reader of split names declared ahead drops those no row has, as readDataset does; a stream-format file reads too', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-dataset-'));
  try {
    const ds = dataset(30);
    const file = join(dir, 'declared.arrow');
    const writer = await openDatasetWriter(file, { ...ds, declaredSplits: true }, { rowsPerBatch: 4 });
    const rows = slice(ds, 0, 30);
    rows.splitCodes = Int8Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? 2 : 0));
    await writer.append(rows);
    await writer.close();
    const whole = await readDataset(file);
    const reader = await openDatasetReader(file);
    assert.deepEqual(reader.header.splitNames, whole.splitNames);
    assert.deepEqual(reader.columns.splitCodes, whole.splitCodes);
    assert.equal(reader.header.declaredSplits, undefined, 'the marker is not carried on');
    await reader.close();

    const stream = join(dir, 'stream.arrows');
    await writeFile(stream, tableToIPC(tableFromIPC(await readFile(file)), 'stream'));
    const fromStream = await openDatasetReader(stream);
    assert.equal(fromStream.batchCount, 8);
    assert.deepEqual(fromStream.columns, { labels: whole.labels, splitCodes: whole.splitCodes, source: whole.source });
    assert.deepEqual(Uint8Array.from((await fromStream.batch(7)).pixels), whole.pixels.subarray(28 * 24));
    await fromStream.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
