// Pure model helpers checked against values worked out by hand: classification metrics, learning-rate
// schedules, class weights, label smoothing and augmentation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { confusionMatrix, metricsFromConfusion } from '../../src/model/metrics.js';
import { afterEpoch, initialScheduleState, learningRateFor, type ScheduleSpec } from '../../src/train/lr-schedule.js';
import { classWeightsFor } from '../../src/model/class-weights.js';
import { smoothedTargets } from '../../src/model/loss.js';
import { augmentImage } from '../../src/model/augment.js';
import { createRandom } from '../../src/data/random.js';
import { PipeError } from '../../src/errors.js';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

test('metrics of a known confusion matrix', () => {
  // true \ predicted   a  b  c
  //   a                5  1  0    support 6
  //   b                2  3  1    support 6
  //   c                0  0  0    support 0 (never true, never predicted)
  const truth = [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1];
  const predicted = [0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 2];
  const cm = confusionMatrix(truth, predicted, 3);
  assert.deepEqual(cm, [[5, 1, 0], [2, 3, 1], [0, 0, 0]]);
  const m = metricsFromConfusion(cm, ['a', 'b', 'c']);
  assert.equal(m.count, 12);
  close(m.accuracy, 8 / 12, 'accuracy');
  // precision a = 5/7, recall a = 5/6; precision b = 3/4, recall b = 3/6; c: predicted once, never right.
  close(m.perClass[0].precision, 5 / 7, 'precision a');
  close(m.perClass[0].recall, 5 / 6, 'recall a');
  close(m.perClass[0].f1, (2 * (5 / 7) * (5 / 6)) / (5 / 7 + 5 / 6), 'f1 a');
  close(m.perClass[1].precision, 3 / 4, 'precision b');
  close(m.perClass[1].recall, 1 / 2, 'recall b');
  close(m.perClass[1].f1, 0.6, 'f1 b');
  assert.deepEqual(m.perClass[2], { class: 'c', precision: 0, recall: 0, f1: 0, support: 0 });
  assert.deepEqual(m.perClass.map((r) => r.support), [6, 6, 0]);
  // Balanced accuracy: mean recall over classes that occur in the truth (a, b).
  close(m.balancedAccuracy, (5 / 6 + 1 / 2) / 2, 'balanced accuracy');
  // Macro F1 over classes seen in truth or predictions: a, b and c (predicted once).
  const f1a = (2 * (5 / 7) * (5 / 6)) / (5 / 7 + 5 / 6);
  close(m.macroF1, (f1a + 0.6 + 0) / 3, 'macro F1');
  assert.deepEqual(m.confusion, cm);
  assert.deepEqual(m.classes, ['a', 'b', 'c']);
});

test('learning-rate schedules', () => {
  const none: ScheduleSpec = { type: 'none' };
  const s0 = initialScheduleState(0.1);
  assert.equal(learningRateFor(none, 0.1, 7, 10, s0), 0.1);
  const step: ScheduleSpec = { type: 'step', every: 3, factor: 0.5 };
  assert.deepEqual([0, 2, 3, 5, 6].map((e) => learningRateFor(step, 0.1, e, 10, s0)), [0.1, 0.1, 0.05, 0.05, 0.025]);
  const cosine: ScheduleSpec = { type: 'cosine', minLr: 0.001 };
  close(learningRateFor(cosine, 0.1, 0, 5, s0), 0.1, 'cosine start');
  close(learningRateFor(cosine, 0.1, 2, 5, s0), 0.001 + 0.5 * 0.099, 'cosine middle');
  close(learningRateFor(cosine, 0.1, 4, 5, s0), 0.001, 'cosine end');
  const plateau: ScheduleSpec = { type: 'reduce-on-plateau', factor: 0.5, patience: 2, minLr: 0.03 };
  let s = s0;
  const rates: number[] = [];
  for (const valLoss of [1.0, 0.9, 0.95, 0.93, 0.92, 0.91, 0.95, 0.96]) {
    s = afterEpoch(plateau, s, valLoss);
    rates.push(learningRateFor(plateau, 0.1, 0, 10, s));
  }
  // Improves twice, then two epochs without improvement → 0.05; two more → 0.03 (minLr floors 0.025).
  assert.deepEqual(rates, [0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03, 0.03]);
});

test('class weights: balanced is n / (classes × count); a map names classes', () => {
  const balanced = classWeightsFor('balanced', ['a', 'b', 'c'], [10, 30, 20])!;
  assert.deepEqual(balanced.map((w) => Math.round(w * 1e9) / 1e9), [2, 0.666666667, 1]);
  // A class missing from training gets 0 and does not count as a class.
  assert.deepEqual(classWeightsFor('balanced', ['a', 'b', 'c'], [10, 0, 30]), [2, 0, 40 / 60]);
  assert.equal(classWeightsFor('none', ['a'], [3]), null);
  assert.deepEqual(classWeightsFor({ b: 3 }, ['a', 'b'], [1, 1]), [1, 3]);
  assert.throws(() => classWeightsFor({ z: 1 }, ['a', 'b'], [1, 1]), PipeError);
});

test('label smoothing moves mass from the true class to all classes', () => {
  const y = smoothedTargets([2, 0], 4, 0.2);
  const expected = [0.05, 0.05, 0.85, 0.05, 0.85, 0.05, 0.05, 0.05];
  y.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) < 1e-6));
});

test('augmentation: no-op settings copy, flip mirrors, and draws depend only on the seed', () => {
  const h = 3;
  const w = 4;
  const src = Float32Array.from({ length: h * w }, (_, i) => i);
  const out = new Float32Array(h * w);
  augmentImage(src, out, h, w, 1, {}, createRandom(1));
  assert.deepEqual([...out], [...src]);
  // With flipHorizontal the image is mirrored for about half the draws; find one flipped draw and check it.
  let flipped = false;
  for (let seed = 0; seed < 10 && !flipped; seed++) {
    augmentImage(src, out, h, w, 1, { flipHorizontal: true }, createRandom(seed));
    if (out[0] !== src[0]) {
      flipped = true;
      const mirrored = [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8];
      out.forEach((v, i) => assert.ok(Math.abs(v - mirrored[i]) < 1e-5, `pixel ${i}: ${v}`));
    }
  }
  assert.ok(flipped, 'no draw flipped the image');
  const a = new Float32Array(h * w);
  const b = new Float32Array(h * w);
  const spec = { shift: 0.2, rotation: 15, zoom: 0.1 };
  augmentImage(src, a, h, w, 1, spec, createRandom(5));
  augmentImage(src, b, h, w, 1, spec, createRandom(5));
  assert.deepEqual(a, b);
  assert.notDeepEqual([...a], [...src]);
  // Edge pixels are repeated, so values stay within the source range.
  assert.ok(a.every((v) => v >= 0 && v <= 11));
});

test('augmentation: random erasing zeroes one rectangle, only when asked, and leaves the other draws alone', () => {
  const h = 12;
  const w = 10;
  const src = Float32Array.from({ length: h * w }, (_, i) => i + 1);
  const out = new Float32Array(h * w);
  augmentImage(src, out, h, w, 1, { erase: 1 }, createRandom(3));
  const zeros = [...out.keys()].filter((i) => out[i] === 0);
  assert.ok(zeros.length >= 1 && zeros.length <= Math.ceil(0.33 * h * w) + w, `${zeros.length} pixels erased`);
  // The erased pixels form one rectangle: its bounding box is all zeros, and everything else is the source.
  const ys = zeros.map((i) => Math.floor(i / w));
  const xs = zeros.map((i) => i % w);
  const box = (Math.max(...ys) - Math.min(...ys) + 1) * (Math.max(...xs) - Math.min(...xs) + 1);
  assert.equal(box, zeros.length);
  out.forEach((v, i) => assert.ok(v === 0 || v === src[i], `pixel ${i}`));
  augmentImage(src, out, h, w, 1, { erase: 0 }, createRandom(3));
  assert.deepEqual([...out], [...src]);
  // Erasing draws after the geometric ones, so a pipeline that adds it keeps the same shifts for its first image.
  const spec = { shift: 0.2, rotation: 15 };
  const plain = new Float32Array(h * w);
  const erased = new Float32Array(h * w);
  augmentImage(src, plain, h, w, 1, spec, createRandom(8));
  augmentImage(src, erased, h, w, 1, { ...spec, erase: 1 }, createRandom(8));
  erased.forEach((v, i) => assert.ok(v === 0 || v === plain[i], `pixel ${i}`));
  assert.ok(erased.some((v, i) => v !== plain[i]), 'nothing was erased');
});
