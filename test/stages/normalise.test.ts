// The normalise stage records an affine transform fitted on the train split only and leaves pixels as uint8;
// normaliseBatch applies it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import normalise from '../../stages/normalise.js';
import { runStage } from '../../harness/stage-harness.js';
import { imageAt, readDataset, rowsOfSplit, writeDataset, type ImageDataset } from '../../src/data/image-dataset.js';
import { NORMALISE_KEY, normaliseBatch, PixelStatistics, SCALE_TRANSFORM, transformOf, type NormaliseTransform } from '../../src/data/normalisation.js';
import { PipeError } from '../../src/errors.js';

/** 4x4 images with `channels` channels: train bytes vary in 0..60, validation bytes are all 250. */
function plantedDataset(channels: number): ImageDataset {
  const size = 4 * 4 * channels;
  const splitCodes = Int8Array.from([0, 0, 0, 1, 1, 0, 1, 0]);
  const n = splitCodes.length;
  const pixels = new Uint8Array(n * size);
  for (let i = 0; i < n; i++) {
    for (let p = 0; p < size; p++) {
      const c = p % channels;
      pixels[i * size + p] = splitCodes[i] === 1 ? 250 : (i * 7 + p * 3) % 41 + 20 * c;
    }
  }
  return {
    shape: [4, 4, channels],
    classes: ['x', 'y'],
    labels: Uint8Array.from({ length: n }, (_, i) => i % 2),
    pixels,
    splitNames: ['train', 'validation'],
    splitCodes,
    source: Uint32Array.from({ length: n }, (_, i) => i),
    metadata: {},
  };
}

async function write(ds: ImageDataset): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'pipe-normalise-test-')), 'data.arrow');
  await writeDataset(path, ds);
  return path;
}

/** Mean and population std of train bytes (scaled by 1/255) of channel c, or all channels if c < 0, computed naively. */
function naiveStats(ds: ImageDataset, c: number): [number, number] {
  const values: number[] = [];
  const channels = ds.shape[2];
  const size = ds.pixels.length / ds.labels.length;
  for (let i = 0; i < ds.labels.length; i++) {
    if (ds.splitNames[ds.splitCodes[i]] !== 'train') continue;
    for (let p = 0; p < size; p++) if (c < 0 || p % channels === c) values.push(ds.pixels[i * size + p] / 255);
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return [mean, Math.sqrt(variance)];
}

test('standardise fits mean and std on the train split only and keeps pixels unchanged', async () => {
  const input = plantedDataset(1);
  const { outputs, summary } = await runStage(normalise, { params: { mode: 'standardise' }, inputs: { data: await write(input) } });
  const out = await readDataset(outputs.data);
  assert.deepEqual(out.pixels, input.pixels);
  const recorded = JSON.parse(out.metadata['pipe.normalise']) as NormaliseTransform;
  const [mean, std] = naiveStats(input, 0);
  assert.equal(recorded.mode, 'standardise');
  assert.equal(recorded.fitSplit, 'train');
  assert.equal(recorded.fitRows, 5);
  assert.equal(recorded.scale, 1 / 255);
  assert.ok(Math.abs(recorded.mean[0] - mean) < 1e-12, `mean ${recorded.mean[0]} vs train-only ${mean}`);
  assert.ok(Math.abs(recorded.std[0] - std) < 1e-12);
  // Validation pixels of 250 would drag the mean far above the train bytes (< 61) if they had been used.
  assert.ok(recorded.mean[0] < 61 / 255);
  assert.equal((summary as Record<string, unknown>).fitSplit, 'train');

  // Applied to train rows, the transform gives mean 0 and std 1.
  const train = Uint8Array.from(input.pixels.filter((_, p) => input.splitCodes[Math.floor(p / 16)] === 0));
  const z = normaliseBatch(train, transformOf(out.metadata));
  const zMean = z.reduce((a, b) => a + b, 0) / z.length;
  const zVar = z.reduce((a, b) => a + (b - zMean) ** 2, 0) / z.length;
  assert.ok(Math.abs(zMean) < 1e-5 && Math.abs(zVar - 1) < 1e-4);
});

test('per-channel and global statistics on colour images', async () => {
  const input = plantedDataset(3);
  const path = await write(input);
  const per = await runStage(normalise, { params: { mode: 'standardise', statistics: 'per-channel' }, inputs: { data: path } });
  const perT = transformOf((await readDataset(per.outputs.data)).metadata);
  assert.equal(perT.mean.length, 3);
  for (let c = 0; c < 3; c++) {
    const [mean, std] = naiveStats(input, c);
    assert.ok(Math.abs(perT.mean[c] - mean) < 1e-12 && Math.abs(perT.std[c] - std) < 1e-12, `channel ${c}`);
  }
  assert.ok(perT.mean[2] > perT.mean[0], 'channels differ');
  const global = await runStage(normalise, { params: { mode: 'standardise', statistics: 'global' }, inputs: { data: path } });
  const globalT = transformOf((await readDataset(global.outputs.data)).metadata);
  const [mean, std] = naiveStats(input, -1);
  assert.deepEqual(globalT.mean.length, 1);
  assert.ok(Math.abs(globalT.mean[0] - mean) < 1e-12 && Math.abs(globalT.std[0] - std) < 1e-12);

  // normaliseBatch applies each channel's own mean/std to interleaved HWC bytes, into a reused buffer.
  const bytes = Uint8Array.from([0, 10, 20, 255, 128, 3]);
  const out = new Float32Array(8).fill(99);
  const result = normaliseBatch(bytes, perT, out);
  assert.equal(result, out);
  for (let i = 0; i < bytes.length; i++) {
    const c = i % 3;
    assert.ok(Math.abs(out[i] - (bytes[i] / 255 - perT.mean[c]) / perT.std[c]) < 1e-5);
  }
  assert.equal(out[6], 99, 'bytes past the batch are left alone');
  assert.throws(() => normaliseBatch(bytes, perT, new Float32Array(2)), RangeError);
});

test('scale mode records x/255 and needs no train split', async () => {
  const input = plantedDataset(1);
  input.splitNames = ['everything', 'other'];
  const { outputs } = await runStage(normalise, { params: {}, inputs: { data: await write(input) } });
  const out = await readDataset(outputs.data);
  const t = transformOf(out.metadata);
  assert.deepEqual({ mode: t.mode, scale: t.scale, mean: t.mean, std: t.std }, { mode: 'scale', scale: 1 / 255, mean: [0], std: [1] });
  assert.deepEqual(Array.from(normaliseBatch(Uint8Array.from([0, 51, 255]), t)), [0, Math.fround(0.2), 1]);
  // A dataset without the key is read as 0..1 scaling.
  assert.equal(transformOf({}).scale, 1 / 255);
});

test('standardise without the fit split fails with a PipeError naming the splits', async () => {
  const input = plantedDataset(1);
  await assert.rejects(
    runStage(normalise, { params: { mode: 'standardise', fitSplit: 'Training' }, inputs: { data: await write(input) } }),
    (e: unknown) => e instanceof PipeError && /'Training'/.test(e.message) && /'train', 'validation'/.test(e.hint ?? ''),
  );
});

test('PixelStatistics reports constant images with std 1 instead of dividing by zero', () => {
  const stats = new PixelStatistics(1);
  stats.add(new Uint8Array(10).fill(9));
  const r = stats.result(true);
  assert.deepEqual(r, { mean: [9 / 255], std: [1], zeroStd: true });
  assert.throws(() => new PixelStatistics(1).result(true), PipeError);
});

test('normalise streams a dataset of many record batches into the file the whole-dataset normalise wrote', async () => {
  // 350 rows of 3x3x3 images in batches of 7; train rows are every third past row 70, so the first ten batches hold none of them.
  const n = 350;
  const ds: ImageDataset = {
    shape: [3, 3, 3],
    classes: ['x', 'y'],
    labels: Uint8Array.from({ length: n }, (_, i) => i % 2),
    pixels: Uint8Array.from({ length: n * 27 }, (_, i) => ((i * 53) % 200) + (i % 3) * 20),
    splitNames: ['validation', 'train'],
    splitCodes: Int8Array.from({ length: n }, (_, i) => (i < 70 || i % 3 !== 0 ? 0 : 1)),
    source: Uint32Array.from({ length: n }, (_, i) => i),
    metadata: { 'pipe.note': '"kept"' },
  };
  const input = join(await mkdtemp(join(tmpdir(), 'pipe-normalise-test-')), 'data.arrow');
  await writeDataset(input, ds, { rowsPerBatch: 7 });
  for (const params of [{ mode: 'scale' }, { mode: 'standardise' }, { mode: 'standardise', statistics: 'global' }]) {
    const { outputs, summary } = await runStage(normalise, { params, inputs: { data: input } });
    // The whole-dataset way: every train image of the dataset in memory, in row order.
    const whole = await readDataset(input);
    let transform: NormaliseTransform;
    if (params.mode === 'scale') transform = { ...SCALE_TRANSFORM };
    else {
      const rows = rowsOfSplit(whole, 'train');
      const stats = new PixelStatistics(3);
      for (const i of rows) stats.add(imageAt(whole, i));
      const { mean, std } = stats.result(params.statistics !== 'global');
      transform = { mode: 'standardise', scale: 1 / 255, mean, std, fitSplit: 'train', fitRows: rows.length };
    }
    const expected = join(await mkdtemp(join(tmpdir(), 'pipe-normalise-test-')), 'data.arrow');
    await writeDataset(expected, { ...whole, metadata: { ...whole.metadata, [NORMALISE_KEY]: JSON.stringify(transform) } });
    assert.deepEqual(await readFile(outputs.data), await readFile(expected), `byte for byte, ${JSON.stringify(params)}`);
    assert.equal((summary as { rows: number }).rows, n);
    if (params.mode === 'standardise') {
      assert.equal((summary as { fitRows: number }).fitRows, 93);
      // And the statistics are those of the train bytes, computed naively.
      const [mean, std] = naiveStats(ds, params.statistics === 'global' ? -1 : 0);
      assert.ok(Math.abs(transform.mean[0] - mean) < 1e-12 && Math.abs(transform.std[0] - std) < 1e-12);
    }
  }
});
