// The artifact formats (src/formats): each written file reads back as written and in the bytes stages always
// wrote, files of older stage versions still read, and a damaged file is a PipeError naming the file and field.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PipeError } from '../../src/errors.js';
import { DEDUPLICATION_FORMAT, readDeduplication, writeDeduplication, type DeduplicationReport } from '../../src/formats/deduplication.js';
import { parseEpoch, readHistory, writeHistory, type HistoryFile } from '../../src/formats/history.js';
import { readLeakage, writeLeakage, type LeakageFile } from '../../src/formats/leakage.js';
import { readMetrics, writeMetrics, type MetricsFile } from '../../src/formats/metrics.js';
import { readModelSummary, writeModelSummary, type ModelSummary } from '../../src/formats/model-summary.js';
import { PREDICTIONS_FORMAT, readPredictions, writePredictions, type Predictions } from '../../src/formats/predictions.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pipe-formats-'));
});
after(() => rm(dir, { recursive: true, force: true }));

const PNG = 'data:image/png;base64,iVBORw0KGgo=';

/** `value` written as a file of its own (raw JSON, the way an older stage or a damaged copy left it). */
async function file(name: string, value: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

/** `read` rejects with a PipeError whose message names the file and matches `field`, and whose hint says who writes it. */
async function refuses(read: (file: string) => Promise<unknown>, path: string, field: RegExp, writer: string): Promise<void> {
  await assert.rejects(read(path), (err: unknown) => {
    assert.ok(err instanceof PipeError, String(err));
    assert.ok(err.message.startsWith(`${path}: `), err.message);
    assert.match(err.message, field);
    assert.match(err.hint ?? '', new RegExp(`the ${writer} stage`));
    return true;
  });
}

const metrics: MetricsFile = {
  splits: {
    validation: {
      split: 'PublicTest',
      loss: 1.02,
      count: 4,
      accuracy: 0.75,
      balancedAccuracy: 0.75,
      macroF1: 0.733,
      perClass: [
        { class: 'a', precision: 1, recall: 0.5, f1: 0.667, support: 2 },
        { class: 'b', precision: 0.667, recall: 1, f1: 0.8, support: 2 },
      ],
      classes: ['a', 'b'],
      confusion: [
        [1, 1],
        [0, 2],
      ],
    },
  },
  backend: 'wasm',
  precision: 'bf16',
};

describe('metrics.json', () => {
  it('reads back what evaluate writes, in the bytes it always wrote', async () => {
    const path = join(dir, 'metrics.json');
    await writeMetrics(path, metrics);
    assert.equal(await readFile(path, 'utf8'), `${JSON.stringify(metrics, null, 2)}\n`);
    assert.deepEqual(await readMetrics(path), metrics);
  });

  it('a loss that was NaN (null in JSON) and a split without its dataset name still read', async () => {
    const { split: _name, ...rest } = metrics.splits.validation;
    const read = await readMetrics(await file('metrics-nan.json', { splits: { test: { ...rest, loss: null } } }));
    assert.equal(read.splits.test.loss, undefined);
    assert.equal(read.splits.test.split, undefined);
    assert.equal(read.splits.test.accuracy, 0.75);
    assert.equal(read.precision, undefined, 'a file from before evaluate recorded its precision has none');
  });

  it('a damaged file names the file and the field', async () => {
    const damaged = structuredClone(metrics) as unknown as { splits: { validation: Record<string, unknown> } };
    damaged.splits.validation.accuracy = 'high';
    await refuses(readMetrics, await file('metrics-bad.json', damaged), /splits\.validation\.accuracy must be a number, found "high"/, 'evaluate');
    damaged.splits.validation.accuracy = 0.5;
    damaged.splits.validation.confusion = [[1, 1]];
    await refuses(readMetrics, await file('metrics-bad2.json', damaged), /splits\.validation\.confusion must be 2 rows \(one per class\), found 1/, 'evaluate');
    await refuses(readMetrics, await file('metrics-fp16.json', { ...metrics, precision: 'fp16' }), /precision must be one of 'fp32', 'bf16', found "fp16"/, 'evaluate');
    await refuses(readMetrics, await file('metrics-cut.json', '{"splits": {'), /not valid JSON/, 'evaluate');
    await refuses(readMetrics, join(dir, 'absent.json'), /no such file/, 'evaluate');
  });
});

const history: HistoryFile = {
  epochs: [
    { epoch: 1, loss: 1.9, accuracy: 0.3, val_loss: 1.95, val_accuracy: 0.28, lr: 0.001, seconds: 12.5, imagesPerSecond: 800 },
    { epoch: 2, loss: 1.5, accuracy: 0.4, val_loss: 1.7, val_accuracy: 0.33, lr: 0.0005, seconds: 6, imagesPerSecond: 790, partial: true },
  ],
  bestEpoch: 2,
  monitor: 'val_loss',
  stoppedEarly: false,
  stoppedOnTime: true,
  trainingSeconds: 18.5,
  restoredBest: true,
  resumedFromEpoch: null,
  classWeights: [1, 2.5],
  backend: 'wasm',
  trainSplit: 'train',
  validationSplit: 'validation',
  trainRows: 100,
  validationRows: 20,
};

describe('history.json', () => {
  it('reads back what train writes, in the bytes it always wrote', async () => {
    const path = join(dir, 'history.json');
    await writeHistory(path, history);
    assert.equal(await readFile(path, 'utf8'), `${JSON.stringify(history, null, 2)}\n`);
    assert.deepEqual(await readHistory(path), history);
  });

  it("a history from before time budgets and recorded splits still reads (no stoppedOnTime, trainSplit, partial…)", async () => {
    const { stoppedOnTime: _a, trainingSeconds: _b, trainSplit: _c, validationSplit: _d, ...older } = history;
    const old = { ...older, epochs: history.epochs.map(({ partial: _p, ...e }) => e), validationRows: 0 };
    const read = await readHistory(await file('history-old.json', old));
    assert.equal(read.trainSplit, undefined);
    assert.deepEqual(read, old);
  });

  it('a damaged file names the file and the field; a log line of one epoch is checked the same way', async () => {
    const damaged = structuredClone(history) as unknown as { epochs: Record<string, unknown>[] };
    damaged.epochs[1].val_loss = 'x';
    await refuses(readHistory, await file('history-bad.json', damaged), /epochs\[1\]\.val_loss must be a number, found "x"/, 'train');
    await refuses(readHistory, await file('history-none.json', {}), /epochs must be a list, it is missing/, 'train');
    assert.deepEqual(parseEpoch({ epoch: 3, loss: null }, 'log.jsonl'), { epoch: 3 });
    assert.throws(() => parseEpoch({ loss: 1 }, 'log.jsonl', 'epochResult'), /^PipeError: log\.jsonl: epochResult\.epoch must be a number, it is missing/);
  });
});

const pair = (a: string, b: string) => ({
  splits: [a, b] as [string, string],
  kind: a === b ? ('within' as const) : ('cross' as const),
  groups: 1,
  rows: a === b ? { [a]: 2 } : { [a]: 1, [b]: 1 },
  labelConflicts: 0,
  sameSourceGroups: 0,
  examples: [{ rows: [{ row: 0, source: 2, split: a, label: 'x' }, { row: 5, source: 7, split: b, label: 'x' }], size: 2, labelConflict: false }],
});

/** A leakage.json as the first leakage-check wrote it: no thumbnails, no matchedRows, no near copies. */
const firstLeakage: LeakageFile = {
  rows: 10,
  rowsPerSplit: { train: 6, test: 4 },
  duplicateGroups: 2,
  rowsInDuplicateGroups: 4,
  labelConflictGroups: 0,
  crossSplitGroups: 1,
  pairs: [pair('train', 'train'), pair('train', 'test'), { ...pair('test', 'test'), groups: 0, rows: { test: 0 }, examples: [] }],
  failOn: 'none',
  failed: false,
};

describe('leakage.json', () => {
  const withThumbnails = (pairs: LeakageFile['pairs']) => pairs.map((p) => ({ ...p, examples: p.examples.map((e) => ({ ...e, thumbnail: PNG })) }));
  const leakage: LeakageFile = {
    ...firstLeakage,
    pairs: withThumbnails(firstLeakage.pairs),
    nearDuplicates: {
      maxDistance: 6,
      minCorrelation: 0.9,
      maxShift: 2,
      candidatePairs: 5,
      confirmedPairs: 3,
      ...(({ failOn: _f, failed: _d, ...report }) => report)(firstLeakage),
      pairs: withThumbnails(firstLeakage.pairs).map((p) => (p.kind === 'cross' ? { ...p, matchedRows: { train: 1, test: 1 } } : p)),
    },
  };

  it('reads back what leakage-check writes, near copies included, in the bytes it always wrote', async () => {
    const path = join(dir, 'leakage.json');
    await writeLeakage(path, leakage);
    assert.equal(await readFile(path, 'utf8'), `${JSON.stringify(leakage, null, 2)}\n`);
    assert.deepEqual(await readLeakage(path), leakage);
  });

  it('a report of the first leakage-check (no thumbnails, matchedRows or near copies) still reads', async () => {
    assert.deepEqual(await readLeakage(await file('leakage-old.json', firstLeakage)), firstLeakage);
  });

  it('a thumbnail that is not a PNG data URL is dropped; a damaged field names the file and field', async () => {
    const odd = structuredClone(leakage);
    odd.pairs[1].examples[0].thumbnail = 'javascript:alert(1)';
    assert.equal((await readLeakage(await file('leakage-odd.json', odd))).pairs[1].examples[0].thumbnail, undefined);
    const damaged = structuredClone(leakage) as unknown as { nearDuplicates: { pairs: Record<string, unknown>[] } };
    damaged.nearDuplicates.pairs[1].kind = 'across';
    await refuses(readLeakage, await file('leakage-bad.json', damaged), /nearDuplicates\.pairs\[1\]\.kind must be one of 'within', 'cross', found "across"/, 'leakage-check');
  });
});

describe('deduplication.json', () => {
  const report: DeduplicationReport = {
    format: DEDUPLICATION_FORMAT,
    match: 'near',
    from: ['train'],
    withinSplit: false,
    rowsBefore: 30,
    rowsAfter: 28,
    removedBySplit: { train: 2 },
    removedByPair: { 'train × test': 2 },
    mergedBySplit: {},
    examples: { 'train × test': [{ removed: { row: 3, split: 'train', label: 'a' }, kept: { row: 20, split: 'test', label: 'a' }, thumbnail: PNG }] },
  };

  it('reads back what deduplicate writes, in the bytes it always wrote', async () => {
    const path = join(dir, 'deduplication.json');
    await writeDeduplication(path, report);
    assert.equal(await readFile(path, 'utf8'), `${JSON.stringify(report, null, 2)}\n`);
    assert.deepEqual(await readDeduplication(path), report);
  });

  it('another format, or a damaged field, names the file and field', async () => {
    await refuses(readDeduplication, await file('dedup-other.json', { ...report, format: 'pipe-deduplication/2' }), /format must be 'pipe-deduplication\/1', found "pipe-deduplication\/2"/, 'deduplicate');
    await refuses(readDeduplication, await file('dedup-bad.json', { ...report, removedBySplit: { train: '2' } }), /removedBySplit\.train must be a number/, 'deduplicate');
  });
});

describe('predictions.json', () => {
  const predictions: Predictions = {
    format: PREDICTIONS_FORMAT,
    classes: ['a', 'b'],
    splits: { test: { rows: [7, 9], source: [8, 10], truth: [0, 1], predicted: [0, 0], probabilities: [[0.9, 0.1], [0.6, 0.4]] } },
  };

  it('reads back what evaluate writes, in the bytes it always wrote (one line)', async () => {
    const path = join(dir, 'predictions.json');
    await writePredictions(path, predictions);
    assert.equal(await readFile(path, 'utf8'), `${JSON.stringify(predictions)}\n`);
    assert.deepEqual(await readPredictions(path), predictions);
  });

  it('columns of different lengths or a class index past the class list name the file and field', async () => {
    const short = structuredClone(predictions);
    short.splits.test.truth = [0];
    await refuses(readPredictions, await file('predictions-short.json', short), /splits\.test\.truth must be 2 values \(one per row\), found 1/, 'evaluate');
    const past = structuredClone(predictions);
    past.splits.test.predicted = [0, 2];
    await refuses(readPredictions, await file('predictions-past.json', past), /splits\.test\.predicted\[1\] must be a class index below 2/, 'evaluate');
  });
});

describe('summary.json', () => {
  const summary: ModelSummary = {
    inputShape: [null, 48, 48, 1],
    layers: [
      { name: 'conv2d_1', className: 'Conv2D', outputShape: [null, 46, 46, 32], params: 320, trainableParams: 320 },
      { name: 'dense_1', className: 'Dense', outputShape: [null, 7], params: 231, trainableParams: 231 },
    ],
    totalParams: 551,
    trainableParams: 551,
    nonTrainableParams: 0,
  };

  it('reads back what build-model writes, in the bytes it always wrote', async () => {
    const path = join(dir, 'summary.json');
    await writeModelSummary(path, summary);
    assert.equal(await readFile(path, 'utf8'), `${JSON.stringify(summary, null, 2)}\n`);
    assert.deepEqual(await readModelSummary(path), summary);
  });

  it('a damaged field names the file and field', async () => {
    const damaged = structuredClone(summary) as unknown as { layers: Record<string, unknown>[] };
    damaged.layers[1].outputShape = [null, -7];
    await refuses(readModelSummary, await file('summary-bad.json', damaged), /layers\[1\]\.outputShape\[1\] must be a whole number ≥ 0, found -7/, 'build-model');
  });
});
