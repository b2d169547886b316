// evaluate on a model whose predictions are known by construction: a dense layer with identity weights on
// 2×2 images predicts the index of the brightest pixel, so the confusion matrix and the loss are known exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import buildModel from '../../stages/build-model.js';
import evaluate from '../../stages/evaluate.js';
import { runStage } from '../../harness/stage-harness.js';
import { PipeError } from '../../src/errors.js';
import { parsePredictions, readPredictions } from '../../src/formats/predictions.js';
import { writeDataset, type ImageDataset } from '../../src/data/image-dataset.js';
import { loadTf } from '../../src/tf/backend.js';
import { loadModel, saveModel } from '../../src/model/model-io.js';

const CLASSES = ['a', 'b', 'c', 'd'];

/** Each row: [true class, brightest pixel (= predicted class)], in FER2013's split names. */
const ROWS: Array<[number, number, string]> = [
  [0, 0, 'PrivateTest'], [0, 0, 'PrivateTest'], [0, 1, 'PrivateTest'],
  [1, 1, 'PrivateTest'], [1, 0, 'PrivateTest'],
  [2, 2, 'PrivateTest'], [2, 3, 'PrivateTest'], [2, 3, 'PrivateTest'],
  [3, 3, 'PrivateTest'],
  [0, 0, 'Training'], [1, 1, 'PublicTest'],
];

async function fixtures() {
  const splitNames = ['Training', 'PublicTest', 'PrivateTest'];
  const pixels = new Uint8Array(ROWS.length * 4);
  ROWS.forEach(([, bright], i) => (pixels[i * 4 + bright] = 255));
  const ds: ImageDataset = {
    shape: [2, 2, 1],
    classes: CLASSES,
    labels: Uint8Array.from(ROWS.map((r) => r[0])),
    pixels,
    splitNames,
    splitCodes: Int8Array.from(ROWS.map((r) => splitNames.indexOf(r[2]))),
    source: Uint32Array.from(ROWS.map((_, i) => i)),
    metadata: {},
  };
  const dir = await mkdtemp(join(tmpdir(), 'pipe-evaluate-'));
  const data = join(dir, 'data.arrow');
  await writeDataset(data, ds);
  const built = await runStage(buildModel, {
    params: { inputShape: [2, 2, 1], layers: [{ flatten: null }, { dense: { units: 4, activation: 'softmax' } }] },
    backend: 'cpu',
  });
  const { tf } = await loadTf('cpu');
  const model = await loadModel(tf, built.outputs.model);
  // Pixel values are scaled to 0..1: logits are 2·(pixel == bright), so p(bright) = e²/(e² + 3).
  const weights = [tf.mul(tf.eye(4), 2), tf.zeros([4])];
  model.setWeights(weights);
  const modelDir = join(dir, 'model');
  await saveModel(tf, model, modelDir);
  tf.dispose(weights);
  model.dispose();
  return { data, model: modelDir };
}

test('evaluate writes the known confusion matrix, metrics and loss; test means PrivateTest in FER2013', async () => {
  const inputs = await fixtures();
  const r = await runStage(evaluate, { params: { splits: ['test', 'validation'], batchSize: 4 }, inputs, backend: 'cpu' });
  const metrics = JSON.parse(await readFile(r.outputs.metrics, 'utf8'));
  const t = metrics.splits.test;
  assert.equal(t.split, 'PrivateTest');
  assert.deepEqual(t.classes, CLASSES);
  assert.deepEqual(t.confusion, [
    [2, 1, 0, 0],
    [1, 1, 0, 0],
    [0, 0, 1, 2],
    [0, 0, 0, 1],
  ]);
  assert.equal(t.count, 9);
  assert.ok(Math.abs(t.accuracy - 5 / 9) < 1e-12);
  assert.ok(Math.abs(t.balancedAccuracy - (2 / 3 + 1 / 2 + 1 / 3 + 1) / 4) < 1e-12);
  assert.deepEqual(t.perClass.map((c: { support: number }) => c.support), [3, 2, 3, 1]);
  assert.ok(Math.abs(t.perClass[3].precision - 1 / 3) < 1e-12);
  // Right or wrong, the true class gets p = 1/(e²+3) when another pixel is bright, e²/(e²+3) when its own is.
  const e2 = Math.exp(2);
  const expectedLoss = (5 * -Math.log(e2 / (e2 + 3)) + 4 * -Math.log(1 / (e2 + 3))) / 9;
  assert.ok(Math.abs(t.loss - expectedLoss) < 1e-5, `${t.loss} vs ${expectedLoss}`);
  assert.equal(metrics.splits.validation.split, 'PublicTest');
  assert.equal(metrics.splits.validation.accuracy, 1);
  assert.equal((r.summary as { testAccuracy: number }).testAccuracy, t.accuracy);

  // Every scored image, per split: the rows of the confusion matrix, one by one, with their probabilities.
  const predictions = await readPredictions(r.outputs.predictions);
  assert.deepEqual(predictions.classes, CLASSES);
  const p = predictions.splits.test;
  assert.equal(p.rows.length, 9);
  const confusion = CLASSES.map(() => CLASSES.map(() => 0));
  p.truth.forEach((truth, i) => confusion[truth][p.predicted[i]]++);
  assert.deepEqual(confusion, t.confusion);
  p.rows.forEach((row, i) => {
    assert.equal(p.source[i], row, 'source is the dataset row\'s (here its index)');
    assert.ok(Math.abs(p.probabilities[i].reduce((a, b) => a + b, 0) - 1) < 1e-3);
    const own = p.probabilities[i][p.truth[i]];
    assert.ok(Math.abs(own - (p.truth[i] === p.predicted[i] ? e2 / (e2 + 3) : 1 / (e2 + 3))) < 1e-4, `row ${row}: ${own}`);
  });
  assert.equal(predictions.splits.validation.rows.length, metrics.splits.validation.count);
  assert.throws(
    () => parsePredictions({ ...predictions, classes: ['a'] }, r.outputs.predictions),
    (err: unknown) => err instanceof PipeError && /a class index below 1/.test(err.message),
    'a class index past the class list is refused',
  );

  await assert.rejects(
    runStage(evaluate, { params: { splits: ['holdout'] }, inputs, backend: 'cpu' }),
    (err: unknown) => err instanceof PipeError && /no rows in split 'holdout'/.test(err.message) && /PrivateTest/.test(err.hint ?? ''),
  );
});

test('testTimeAugmentation flip averages each image with its mirror: here the brightest pixel and its mirror tie', async () => {
  const inputs = await fixtures();
  const r = await runStage(evaluate, { params: { splits: ['test'], batchSize: 4, testTimeAugmentation: 'flip' }, inputs, backend: 'cpu' });
  const t = JSON.parse(await readFile(r.outputs.metrics, 'utf8')).splits.test;
  // Pixel p and its mirror get the same mean probability, and argmax takes the first: left columns (0, 2) win.
  assert.deepEqual(t.confusion, [
    [3, 0, 0, 0],
    [2, 0, 0, 0],
    [0, 0, 3, 0],
    [0, 0, 1, 0],
  ]);
  assert.ok(Math.abs(t.accuracy - 6 / 9) < 1e-12);
  // Every true class is the bright pixel or its mirror: p = (e² + 1) / (2 (e² + 3)).
  const e2 = Math.exp(2);
  assert.ok(Math.abs(t.loss + Math.log((e2 + 1) / (2 * (e2 + 3)))) < 1e-5, `${t.loss}`);
});

test('testTimeAugmentation flip-shift averages ten views: the image and its mirror, each moved one pixel four ways', async () => {
  const inputs = await fixtures();
  const r = await runStage(evaluate, { params: { splits: ['test'], batchSize: 4, testTimeAugmentation: 'flip-shift' }, inputs, backend: 'cpu' });
  const predictions = await readPredictions(r.outputs.predictions);
  // The views, computed here pixel by pixel on the 2×2 image (a twentieth of 2 pixels rounds up to one), through
  // the fixture's model: logits 2·pixel, softmax. predictions.json keeps 4 decimals.
  const at = (img: number[], y: number, x: number) => img[Math.min(Math.max(y, 0), 1) * 2 + Math.min(Math.max(x, 0), 1)];
  const view = (img: number[], dy: number, dx: number, mirror: boolean) =>
    [0, 1, 2, 3].map((i) => at(img, Math.floor(i / 2) - dy, (mirror ? 1 - (i % 2) : i % 2) - dx));
  const softmax = (v: number[]) => {
    const e = v.map((p) => Math.exp(2 * p));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((p) => p / total);
  };
  const moves = [[0, 0], [0, 1], [0, -1], [1, 0], [-1, 0]];
  const p = predictions.splits.test;
  p.rows.forEach((row, i) => {
    const img = [0, 1, 2, 3].map((k) => (k === ROWS[row][1] ? 1 : 0));
    const views = [false, true].flatMap((mirror) => moves.map(([dy, dx]) => softmax(view(img, dy, dx, mirror))));
    const expected = [0, 1, 2, 3].map((k) => views.reduce((a, v) => a + v[k], 0) / views.length);
    expected.forEach((e, k) => assert.ok(Math.abs(p.probabilities[i][k] - e) < 1e-4, `row ${row} class ${k}: ${p.probabilities[i][k]} vs ${e}`));
  });
});
