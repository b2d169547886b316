// The split stage run for real on small Arrow datasets: renaming FER2013's Usage values, stratified fractions
// with exact counts and seeded determinism, dividing only some splits, and the errors.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import split, { SPLIT_KEY } from '../../stages/split.js';
import { classCounts, readDataset, writeDataset } from '../../src/data/image-dataset.js';
import type { ImageDataset } from '../../src/data/image-dataset.js';
import { fractionSplits, mapSplits, quotas, sourcesInSeveralSplits } from '../../src/data/split-plan.js';
import { PipeError } from '../../src/errors.js';
import { runStage } from '../../harness/stage-harness.js';

/** A dataset of 2x2x1 images: `perClass[k]` rows of class k, split values cycling through `splits`. */
function makeDataset(perClass: number[], splits: string[], source?: number[]): ImageDataset {
  const labels = perClass.flatMap((n, k) => Array.from({ length: n }, () => k));
  const n = labels.length;
  return {
    shape: [2, 2, 1],
    classes: perClass.map((_, k) => `c${k}`),
    labels: Uint8Array.from(labels),
    pixels: Uint8Array.from({ length: n * 4 }, (_, i) => (i * 13) % 256),
    splitNames: splits,
    splitCodes: Int8Array.from({ length: n }, (_, i) => i % splits.length),
    source: Uint32Array.from(source ?? Array.from({ length: n }, (_, i) => i + 2)),
    metadata: { 'pipe.note': '"kept"' },
  };
}

/** Temp folders made by these tests (inputs and the harness's output folders), removed at the end. */
const temporary: string[] = [];
after(() => Promise.all(temporary.map((dir) => rm(dir, { recursive: true, force: true }))));

async function saved(ds: ImageDataset): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-split-test-'));
  temporary.push(dir);
  const path = join(dir, 'data.arrow');
  await writeDataset(path, ds);
  return path;
}

async function runSplit(ds: ImageDataset, params: Record<string, unknown>, seed = 1) {
  const result = await runStage(split, { inputs: { data: await saved(ds) }, params, seed });
  temporary.push(join(result.outDir, '..'));
  return { result, out: await readDataset(result.outputs.data) };
}

function namesOf(ds: ImageDataset): string[] {
  return [...ds.splitCodes].map((c) => ds.splitNames[c]);
}

test('default map renames FER2013 Usage values and keeps rows, pixels and metadata', async () => {
  const ds = makeDataset([5, 4], ['Training', 'PublicTest', 'PrivateTest']);
  const { result, out } = await runSplit(ds, {});
  assert.deepEqual(
    namesOf(out),
    namesOf(ds).map((n) => ({ Training: 'train', PublicTest: 'validation', PrivateTest: 'test' })[n]),
  );
  assert.deepEqual(out.pixels, ds.pixels);
  assert.deepEqual(out.labels, ds.labels);
  assert.deepEqual(out.source, ds.source);
  assert.equal(out.metadata['pipe.note'], '"kept"');
  assert.equal(JSON.parse(out.metadata['pipe.split']).method, 'map');
  const summary = result.summary as Record<string, any>;
  assert.deepEqual(summary.splits, { train: 3, validation: 3, test: 3 });
  assert.deepEqual(summary.classCounts.train, { c0: 2, c1: 1 });
});

test('a custom map may merge splits', async () => {
  const { out } = await runSplit(makeDataset([3, 3], ['a', 'b', 'c']), { map: { a: 'train', b: 'test', c: 'test' } });
  assert.deepEqual(out.splitNames, ['train', 'test']);
  assert.deepEqual(namesOf(out), ['train', 'test', 'test', 'train', 'test', 'test']);
});

test('unmapped split values are an error that lists them', async () => {
  const ds = makeDataset([4], ['Training', 'PublicTest', 'PrivateTest', 'Extra']);
  await assert.rejects(
    runSplit(ds, { map: { Training: 'train', PublicTest: 'validation' } }),
    (err: unknown) =>
      err instanceof PipeError &&
      /split map has no entry for 'PrivateTest', 'Extra'/.test(err.message) &&
      /PrivateTest: privatetest/.test(err.hint ?? ''),
  );
});

test('quotas give exact counts by largest remainder', () => {
  assert.deepEqual(quotas(100, [0.8, 0.1, 0.1]), [80, 10, 10]);
  assert.deepEqual(quotas(37, [0.8, 0.1, 0.1]), [29, 4, 4]);
  assert.deepEqual(quotas(10, [0.8, 0.1, 0.1]), [8, 1, 1]);
  assert.deepEqual(quotas(1, [0.8, 0.1, 0.1]), [1, 0, 0]);
  assert.deepEqual(quotas(0, [0.5, 0.5]), [0, 0]);
  assert.deepEqual(quotas(547, [0.7, 0.15, 0.15]), [383, 82, 82]);
});

test('fractions are stratified by class with exact counts', async () => {
  const ds = makeDataset([100, 37, 10], ['all']);
  const { result, out } = await runSplit(ds, { fractions: { train: 0.8, validation: 0.1, test: 0.1 } });
  assert.deepEqual(out.splitNames, ['train', 'validation', 'test']);
  assert.deepEqual(classCounts(out), { train: [80, 29, 8], validation: [10, 4, 1], test: [10, 4, 1] });
  assert.deepEqual(out.labels, ds.labels, 'rows stay in place');
  const summary = result.summary as Record<string, any>;
  assert.deepEqual(summary.classCounts.validation, { c0: 10, c1: 4, c2: 1 });
  assert.equal(summary.sourcesInSeveralSplits, 0);
});

test('fractions are deterministic for a seed, differ across seeds, and the seed param overrides the pipeline seed', async () => {
  const ds = makeDataset([60, 40], ['all']);
  const fractions = { train: 0.5, test: 0.5 };
  const a = await runSplit(ds, { fractions }, 7);
  const b = await runSplit(ds, { fractions }, 7);
  const c = await runSplit(ds, { fractions }, 8);
  const d = await runSplit(ds, { fractions, seed: 7 }, 99);
  assert.deepEqual(a.out.splitCodes, b.out.splitCodes);
  assert.notDeepEqual(a.out.splitCodes, c.out.splitCodes);
  assert.deepEqual(classCounts(a.out), classCounts(c.out));
  assert.deepEqual(a.out.splitCodes, d.out.splitCodes);
});

test('from divides only the named splits; other rows keep their split', async () => {
  const ds = makeDataset([20, 10], ['train', 'test']);
  const { out } = await runSplit(ds, { fractions: { train: 0.8, validation: 0.2 }, from: ['train'] });
  assert.deepEqual(out.splitNames, ['train', 'validation', 'test']);
  const before = namesOf(ds);
  const after = namesOf(out);
  before.forEach((name, i) => {
    if (name === 'test') assert.equal(after[i], 'test');
    else assert.notEqual(after[i], 'test');
  });
  assert.deepEqual(classCounts(out), { train: [8, 4], validation: [2, 1], test: [10, 5] });
});

test('copies of one source row landing in several splits are counted (oversampling before splitting leaks)', async () => {
  // Every source row appears twice, as random oversampling before the split would make.
  const ds = makeDataset([40], ['all'], Array.from({ length: 40 }, (_, i) => Math.floor(i / 2)));
  const { result, out } = await runSplit(ds, { fractions: { train: 0.5, test: 0.5 } });
  const leaked = (result.summary as Record<string, number>).sourcesInSeveralSplits;
  assert.ok(leaked > 0, 'some copies are split apart');
  assert.equal(JSON.parse(out.metadata['pipe.split']).sourcesInSeveralSplits, leaked);
});

test('param errors: map and fractions together, fractions not adding to 1, from without fractions, unknown from', async () => {
  const ds = makeDataset([10], ['a', 'b']);
  await assert.rejects(runSplit(ds, { map: { a: 'x', b: 'y' }, fractions: { x: 1 } }), /either map or fractions, not both/);
  await assert.rejects(runSplit(ds, { fractions: { train: 0.8, test: 0.1 } }), /fractions add up to 0\.9, not 1/);
  await assert.rejects(runSplit(ds, { map: { a: 'x', b: 'y' }, from: ['a'] }), /from only applies with fractions/);
  await assert.rejects(runSplit(ds, { fractions: { x: 1 }, from: ['zzz'] }), /from names split 'zzz' that the data lacks/);
});

/** What split wrote when it read the dataset whole: the same assignment over readDataset, written by writeDataset. */
async function wholeDatasetSplit(input: string, params: { map?: Record<string, string>; fractions?: Record<string, number>; from?: string[] }, seed: number, out: string) {
  const ds = await readDataset(input);
  let record: Record<string, unknown>;
  let assigned;
  if (params.fractions) {
    assigned = fractionSplits({ labels: ds.labels, classCount: ds.classes.length, splitNames: ds.splitNames, splitCodes: ds.splitCodes, fractions: params.fractions, from: params.from, seed });
    record = { method: 'fractions', fractions: params.fractions, from: params.from ?? 'all', seed, stratified: true };
  } else {
    assigned = mapSplits(ds.splitNames, ds.splitCodes, params.map!);
    record = { method: 'map', map: params.map };
  }
  const leaked = sourcesInSeveralSplits(ds.source, assigned.splitCodes);
  const metadata = { ...ds.metadata, [SPLIT_KEY]: JSON.stringify({ ...record, sourcesInSeveralSplits: leaked }) };
  await writeDataset(out, { ...ds, splitNames: assigned.splitNames, splitCodes: assigned.splitCodes, metadata });
}

test('split streams a dataset of many record batches into the very file the whole-dataset split wrote', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-split-test-'));
  temporary.push(dir);
  // 300 rows of 3x2x3 images in batches of 7, repeated sources, pixels that differ row by row.
  const n = 300;
  const ds: ImageDataset = {
    shape: [3, 2, 3],
    classes: ['a', 'b', 'c', 'd'],
    labels: Uint8Array.from({ length: n }, (_, i) => (i * 7) % 11 % 4),
    pixels: Uint8Array.from({ length: n * 18 }, (_, i) => (i * 131 + (i >> 5)) % 256),
    splitNames: ['Training', 'PublicTest', 'PrivateTest'],
    splitCodes: Int8Array.from({ length: n }, (_, i) => (i % 10 < 8 ? 0 : i % 10 === 8 ? 1 : 2)),
    source: Uint32Array.from({ length: n }, (_, i) => 5000 + (i % 280)),
    metadata: { 'pipe.note': '"kept"' },
  };
  const input = join(dir, 'input.arrow');
  await writeDataset(input, ds, { rowsPerBatch: 7 });
  const cases: [Record<string, unknown>, number][] = [
    [{ fractions: { train: 0.8, validation: 0.1, test: 0.1 } }, 3],
    [{ fractions: { train: 0.9, validation: 0.1 }, from: ['Training'] }, 11],
    [{ map: { Training: 'train', PublicTest: 'validation', PrivateTest: 'test' } }, 1],
  ];
  for (const [params, seed] of cases) {
    const result = await runStage(split, { inputs: { data: input }, params, seed });
    temporary.push(join(result.outDir, '..'));
    const expected = join(dir, 'expected.arrow');
    await wholeDatasetSplit(input, params, seed, expected);
    assert.deepEqual(await readFile(result.outputs.data), await readFile(expected), `byte for byte, ${JSON.stringify(params)}`);
    const out = await readDataset(result.outputs.data);
    assert.deepEqual(out.pixels, ds.pixels);
    assert.equal((result.summary as { rows: number }).rows, n);
  }
});
