// Over- and under-sampling stages run for real on small Arrow datasets: exact counts per strategy, only the chosen
// splits touched, copies are true copies, and the seed decides the draws.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import oversample from '../../stages/oversample.js';
import undersample from '../../stages/undersample.js';
import { runStage } from '../../harness/stage-harness.js';
import { classCounts, imageAt, readDataset, selectRows, writeDataset, type ImageDataset } from '../../src/data/image-dataset.js';
import { planResample } from '../../src/data/resample.js';
import { targetCounts } from '../../src/data/sampling-strategy.js';
import { PipeError } from '../../src/errors.js';

const CLASSES = ['A', 'B', 'C'];
// Rows per class in each split.
const LAYOUT: Record<string, number[]> = { train: [10, 3, 6], validation: [2, 5, 1], test: [1, 1, 1] };

/** A 2x2x1 dataset whose pixels spell out the row number, so any copy can be traced to its original. */
function tinyDataset(): ImageDataset {
  const labels: number[] = [];
  const splits: number[] = [];
  const splitNames = Object.keys(LAYOUT);
  splitNames.forEach((split, s) => LAYOUT[split].forEach((n, k) => { for (let j = 0; j < n; j++) { labels.push(k); splits.push(s); } }));
  // Interleave splits so that a split's rows are not contiguous.
  const order = labels.map((_, i) => i).sort((a, b) => (a * 7919) % 31 - (b * 7919) % 31);
  const n = labels.length;
  const pixels = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) pixels.set([i, 255 - i, i * 3, 7], i * 4);
  return {
    shape: [2, 2, 1],
    classes: CLASSES,
    labels: Uint8Array.from(order.map((i) => labels[i])),
    pixels,
    splitNames,
    splitCodes: Int8Array.from(order.map((i) => splits[i])),
    source: Uint32Array.from({ length: n }, (_, i) => 1000 + i),
    metadata: { 'pipe.origin': '"tiny"' },
  };
}

async function writeTiny(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-resample-test-'));
  const path = join(dir, 'data.arrow');
  await writeDataset(path, tinyDataset());
  return path;
}

const dataPath = await writeTiny();

async function resample(stage: typeof oversample, params: Record<string, unknown>, seed = 7) {
  const result = await runStage(stage, { params, inputs: { data: dataPath }, seed });
  return { result, ds: await readDataset(result.outputs.data) };
}

/** Every row of `split` in `out` is unchanged from the input (same pixels, labels, sources, order). */
function assertSplitUntouched(input: ImageDataset, out: ImageDataset, split: string) {
  const pick = (ds: ImageDataset) => {
    const code = ds.splitNames.indexOf(split);
    const rows: string[] = [];
    for (let i = 0; i < ds.labels.length; i++) {
      if (ds.splitCodes[i] === code) rows.push(`${ds.source[i]}:${ds.labels[i]}:${imageAt(ds, i).join(',')}`);
    }
    return rows;
  };
  assert.deepEqual(pick(out), pick(input), `split ${split} changed`);
}

test('oversample strategies reach exactly the imbalanced-learn target counts on train only', async () => {
  const input = tinyDataset();
  const cases: [unknown, number[]][] = [
    ['auto', [10, 10, 10]],
    ['not majority', [10, 10, 10]],
    ['all', [10, 10, 10]],
    ['minority', [10, 10, 6]],
    ['not minority', [10, 3, 10]],
    [{ B: 5, C: 9 }, [10, 5, 9]],
    [0.5, [10, 5, 6]],
    [0.8, [10, 8, 8]],
  ];
  for (const [strategy, want] of cases) {
    const { ds, result } = await resample(oversample, { strategy });
    const counts = classCounts(ds);
    assert.deepEqual(counts.train, want, `strategy ${JSON.stringify(strategy)}`);
    assert.deepEqual(counts.validation, LAYOUT.validation);
    assert.deepEqual(counts.test, LAYOUT.test);
    assertSplitUntouched(input, ds, 'validation');
    assertSplitUntouched(input, ds, 'test');
    const summary = result.summary as Record<string, any>;
    assert.deepEqual(summary.after.train, { A: want[0], B: want[1], C: want[2] });
    assert.deepEqual(summary.before.train, { A: 10, B: 3, C: 6 });
  }
});

test('oversample keeps the original rows in place and appends true copies of same-class train rows', async () => {
  const input = tinyDataset();
  const { ds } = await resample(oversample, { strategy: 'auto' });
  const n = input.labels.length;
  assert.equal(ds.labels.length, n + 7 + 4);
  assert.deepEqual(ds.pixels.subarray(0, n * 4), input.pixels);
  assert.deepEqual(ds.source.subarray(0, n), input.source);
  const train = input.splitNames.indexOf('train');
  for (let i = n; i < ds.labels.length; i++) {
    const original = ds.source[i] - 1000;
    assert.equal(input.splitCodes[original], train, 'copies come from train');
    assert.equal(ds.labels[i], input.labels[original]);
    assert.equal(ds.splitNames[ds.splitCodes[i]], 'train');
    assert.deepEqual(imageAt(ds, i), imageAt(input, original));
    assert.notEqual(ds.labels[i], 0, 'the majority class A is never copied');
  }
  // Metadata survives, and the record says what happened.
  assert.equal(ds.metadata['pipe.origin'], '"tiny"');
  const record = JSON.parse(ds.metadata['pipe.resample']);
  assert.equal(record.method, 'oversample');
  assert.deepEqual(record.splits, ['train']);
  assert.deepEqual(record.after.train, { A: 10, B: 10, C: 10 });
  assert.equal(record.rowsAfter, n + 11);
});

test('oversample of several splits resamples each on its own; "all" pools every row ignoring splits', async () => {
  const both = await resample(oversample, { strategy: 'auto', splits: ['train', 'validation'] });
  const counts = classCounts(both.ds);
  assert.deepEqual(counts.train, [10, 10, 10]);
  assert.deepEqual(counts.validation, [5, 5, 5]);
  assert.deepEqual(counts.test, LAYOUT.test);

  const all = await resample(oversample, { strategy: 'auto', splits: 'all' });
  const total = [0, 0, 0];
  for (const k of all.ds.labels) total[k]++;
  assert.deepEqual(total, [13, 13, 13]);
  const record = JSON.parse(all.ds.metadata['pipe.resample']);
  assert.deepEqual(record.before, { all: { A: 13, B: 9, C: 8 } });
  // Copies keep their own row's split, so pooled copies of validation/test rows exist.
  const n = tinyDataset().labels.length;
  const trainCode = all.ds.splitNames.indexOf('train');
  assert.ok(Array.from(all.ds.splitCodes.subarray(n)).some((c) => c !== trainCode));
});

test('the seed decides which rows are copied', async () => {
  const a = await resample(oversample, { strategy: 'auto' }, 1);
  const b = await resample(oversample, { strategy: 'auto' }, 1);
  const c = await resample(oversample, { strategy: 'auto' }, 2);
  const d = await resample(oversample, { strategy: 'auto', seed: 2 }, 1);
  assert.deepEqual(a.ds.source, b.ds.source);
  assert.notDeepEqual(a.ds.source, c.ds.source);
  assert.deepEqual(c.ds.source, d.ds.source, 'the seed param overrides the pipeline seed');
});

test('oversample rejects impossible requests with a PipeError', async () => {
  await assert.rejects(resample(oversample, { strategy: { A: 4 } }), (e: unknown) => e instanceof PipeError && /cannot shrink/.test(e.message));
  await assert.rejects(resample(oversample, { strategy: { Z: 4 } }), (e: unknown) => e instanceof PipeError && /class 'Z'/.test(e.message));
  await assert.rejects(resample(oversample, { splits: ['Training'] }), (e: unknown) => e instanceof PipeError && /'train', 'validation', 'test'/.test(e.hint ?? ''));
  await assert.rejects(resample(oversample, { strategy: 'majority' }), /params of oversample invalid/);
});

test('undersample strategies keep exactly the target counts, without repeats, on train only', async () => {
  const input = tinyDataset();
  const cases: [unknown, number[]][] = [
    ['auto', [3, 3, 3]],
    ['not minority', [3, 3, 3]],
    ['all', [3, 3, 3]],
    ['majority', [3, 3, 6]],
    ['not majority', [10, 3, 3]],
    [{ A: 4 }, [4, 3, 6]],
    [0.5, [6, 3, 6]],
  ];
  for (const [strategy, want] of cases) {
    const { ds } = await resample(undersample, { strategy });
    const counts = classCounts(ds);
    assert.deepEqual(counts.train, want, `strategy ${JSON.stringify(strategy)}`);
    assert.deepEqual(counts.validation, LAYOUT.validation);
    assertSplitUntouched(input, ds, 'validation');
    assertSplitUntouched(input, ds, 'test');
    assert.equal(new Set(ds.source).size, ds.source.length, 'no row repeats');
    // Kept rows stay in their original order.
    assert.deepEqual(Array.from(ds.source), Array.from(ds.source).sort((x, y) => x - y));
  }
  await assert.rejects(resample(undersample, { strategy: { B: 4 } }), (e: unknown) => e instanceof PipeError && /cannot grow/.test(e.message));
  await assert.rejects(resample(undersample, { strategy: 'minority' }), /params of undersample invalid/);
});

test('under-sampling draws each subset uniformly (every row is kept about equally often)', () => {
  const ds = tinyDataset();
  const kept = new Map<number, number>();
  for (let seed = 0; seed < 600; seed++) {
    const plan = planResample(ds, { kind: 'under', strategy: 'auto', splits: ['train'], seed });
    for (const r of plan.rows) if (ds.labels[r] === 0 && ds.splitNames[ds.splitCodes[r]] === 'train') kept.set(r, (kept.get(r) ?? 0) + 1);
  }
  // 3 of 10 class-A rows kept per draw: each is kept 180 times in expectation (sd ≈ 11).
  assert.equal(kept.size, 10);
  for (const times of kept.values()) assert.ok(times > 120 && times < 240, `kept ${times} times`);
});

test('targetCounts ignores absent classes and breaks ties like imbalanced-learn (first class wins)', () => {
  assert.deepEqual(targetCounts([0, 4, 2], CLASSES, 'auto', 'over'), [0, 4, 4]);
  assert.deepEqual(targetCounts([5, 5, 2], CLASSES, 'not majority', 'over'), [5, 5, 5]);
  assert.deepEqual(targetCounts([2, 5, 2], CLASSES, 'minority', 'over'), [5, 5, 2]);
  assert.deepEqual(targetCounts([0, 4, 2], CLASSES, 'auto', 'under'), [0, 2, 2]);
  assert.deepEqual(targetCounts([0, 0, 0], CLASSES, 'auto', 'over'), [0, 0, 0]);
});

test('resampling streams a dataset of many record batches into the file selectRows of the plan makes', async () => {
  // 400 rows of 2x3x3 images in batches of 7: train imbalanced 6:3:1, validation and test interleaved with it.
  const n = 400;
  const labels = Uint8Array.from({ length: n }, (_, i) => (((i / 5) | 0) * 37) % 10).map((v) => (v < 6 ? 0 : v < 9 ? 1 : 2));
  const ds: ImageDataset = {
    shape: [2, 3, 3],
    classes: CLASSES,
    labels,
    pixels: Uint8Array.from({ length: n * 18 }, (_, i) => (i * 97 + (i >> 4)) % 256),
    splitNames: ['train', 'validation', 'test'],
    splitCodes: Int8Array.from({ length: n }, (_, i) => (i % 5 < 3 ? 0 : i % 5 === 3 ? 1 : 2)),
    source: Uint32Array.from({ length: n }, (_, i) => 7 * i + 1),
    metadata: { 'pipe.origin': '"many batches"' },
  };
  const dir = await mkdtemp(join(tmpdir(), 'pipe-resample-test-'));
  const input = join(dir, 'input.arrow');
  await writeDataset(input, ds, { rowsPerBatch: 7 });
  const cases: [typeof oversample, 'over' | 'under', Record<string, unknown>][] = [
    [oversample, 'over', { strategy: 'auto' }],
    [oversample, 'over', { strategy: 'auto', splits: 'all' }],
    [oversample, 'over', { strategy: { B: 200, C: 150 }, splits: ['train', 'validation'] }],
    [undersample, 'under', { strategy: 'auto' }],
  ];
  for (const [stage, kind, params] of cases) {
    const result = await runStage(stage, { params, inputs: { data: input }, seed: 5 });
    const out = await readDataset(result.outputs.data);
    const plan = planResample(ds, { kind, strategy: params.strategy as never, splits: (params.splits ?? ['train']) as never, seed: 5 });
    const expected = join(dir, 'expected.arrow');
    await writeDataset(expected, { ...selectRows(ds, plan.rows), metadata: out.metadata });
    assert.deepEqual(await readFile(result.outputs.data), await readFile(expected), `byte for byte, ${kind} ${JSON.stringify(params)}`);
    assert.equal(out.labels.length, plan.rows.length);
    assert.equal(JSON.parse(out.metadata['pipe.resample']).rowsAfter, plan.rows.length);
    if (kind === 'over') {
      assert.ok(plan.rows.length > n, 'copies were made');
      assert.deepEqual(Array.from(plan.rows.subarray(0, n)), Array.from({ length: n }, (_, i) => i), 'originals in place');
      const copies = Array.from(plan.rows.subarray(n));
      assert.deepEqual(copies, copies.slice().sort((a, b) => a - b), 'copies in the order of the rows they copy');
    }
  }
});
