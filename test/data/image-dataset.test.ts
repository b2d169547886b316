// The Arrow image dataset file: written in record batches (one array of every pixel cannot pass 2^31 bytes),
// read back batch by batch from disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecordBatchReader, tableFromIPC, tableToIPC } from 'apache-arrow';
import { readDataset, rowsPerBatch, writeDataset, type ImageDataset } from '../../src/data/image-dataset.js';

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
