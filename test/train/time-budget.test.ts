// The train stage's time budget on real tfjs (cpu backend): training stops when the budget is spent, mid-epoch
// if need be (that epoch is validated like the others), and the model ends with the weights of the epoch with
// the best validation accuracy. Time is driven by a clock the test advances, so nothing depends on machine speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import buildModel from '../../stages/build-model.js';
import train from '../../stages/train.js';
import { runStage } from '../../harness/stage-harness.js';
import { TINY_LAYERS, quadrantDataset, quadrantTrainContext } from '../support/quadrant-dataset.js';
import { loadTf } from '../../src/tf/backend.js';
import { loadModel } from '../../src/model/model-io.js';
import { rowsOfSplit } from '../../src/data/image-dataset.js';
import { transformOf } from '../../src/data/normalisation.js';
import { BatchBuilder } from '../../src/model/batches.js';
import { inferRows } from '../../src/model/inference.js';
import { train as trainLoop } from '../../src/train/loop.js';
import { durationSeconds } from '../../src/duration.js';

/** More epochs than any budget below allows, keeping the epoch with the best validation accuracy. */
const FIFTY_EPOCHS_KEEPING_THE_BEST = {
  labelSmoothing: 0,
  batchSize: 16,
  epochs: 50,
  classWeights: null,
  earlyStopping: { monitor: 'val_accuracy' as const, patience: 0, restoreBest: true },
  replicas: 1,
};

/** A tiny model and the quadrant task, with a clock that every reading moves on by a second. */
async function clockedTraining(fingerprint: string) {
  const { tf } = await loadTf('cpu');
  const built = await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers: TINY_LAYERS }, backend: 'cpu', seed: 3 });
  const model = await loadModel(tf, built.outputs.model);
  const ds = quadrantDataset({ perClass: { train: 24, validation: 8, test: 8 } });
  let clock = 0;
  const context = await quadrantTrainContext(tf, model, ds, { fingerprint, now: () => (clock += 1000) });
  return { tf, model, ds, context };
}

test('the time budget stops training mid-epoch and keeps the epoch with the best validation accuracy', async () => {
  const { tf, model, ds, context } = await clockedTraining('budget-test');
  const budgetSeconds = 40;
  const result = await trainLoop(context, {
    // A rate too high for the task, so validation accuracy goes up and down and the last epoch is not the best.
    optimizer: { name: 'adam', learningRate: 0.08 },
    schedule: { type: 'none' },
    ...FIFTY_EPOCHS_KEEPING_THE_BEST,
    timeBudgetSeconds: budgetSeconds,
  });
  assert.equal(result.stoppedOnTime, true);
  assert.ok(result.history.length < 50 && result.history.length >= 2, `stopped after ${result.history.length} epochs`);
  assert.ok(result.trainingSeconds >= budgetSeconds && result.trainingSeconds < budgetSeconds + 5, `${result.trainingSeconds}`);
  const last = result.history[result.history.length - 1];
  assert.equal(last.partial, true, 'the budget ran out inside the last epoch');
  assert.ok(last.val_accuracy !== undefined, 'the partial epoch is validated');
  assert.ok(result.history.slice(0, -1).every((e) => !e.partial));

  const accuracies = result.history.map((e) => e.val_accuracy!);
  const best = Math.max(...accuracies);
  assert.equal(result.bestEpoch, accuracies.indexOf(best) + 1);
  assert.notEqual(result.bestEpoch, result.history.length, 'the best epoch is not the last one here');
  assert.equal(result.restoredBest, true);
  // The model now holds the best epoch's weights: validating it again gives the best accuracy.
  const again = await inferRows(tf, model, new BatchBuilder(ds, context.transform, 16), context.validationRows, ds.shape, ds.classes.length);
  assert.equal(again.accuracy, best);
  model.dispose();
});

test('with a time budget shorter than its epochs, the cosine schedule is fitted to the epochs the clock allows', async () => {
  const { model, context } = await clockedTraining('budget-cosine-test');
  const result = await trainLoop(context, {
    optimizer: { name: 'adam', learningRate: 0.01 },
    schedule: { type: 'cosine', minLr: 0.0001 },
    ...FIFTY_EPOCHS_KEEPING_THE_BEST,
    timeBudgetSeconds: 60,
  });
  assert.equal(result.stoppedOnTime, true);
  const rates = result.history.map((e) => e.lr);
  assert.ok(rates.length >= 4 && rates.length < 50, `${rates.length} epochs`);
  assert.equal(rates[0], 0.01);
  rates.slice(1).forEach((r, k) => assert.ok(r < rates[k], `the rate falls every epoch: ${rates.join(', ')}`));
  // Over 50 epochs the cosine would still be above 0.0097 at this epoch; fitted to the budget, the
  // last whole epoch trains near the low end.
  const lastWhole = result.history.filter((e) => !e.partial).at(-1)!;
  assert.ok(lastWhole.lr < 0.002, `the last whole epoch's rate is ${lastWhole.lr}: ${rates.join(', ')}`);
  model.dispose();
});

test('timeBudget takes "1h50m", "90m", "45s" or minutes, and refuses anything else at validation', () => {
  assert.equal(durationSeconds('1h50m'), 6600);
  assert.equal(durationSeconds('90m'), 5400);
  assert.equal(durationSeconds('1h 30m 10s'), 5410);
  assert.equal(durationSeconds('45s'), 45);
  assert.equal(durationSeconds(5), 300);
  assert.equal(durationSeconds('0m'), undefined);
  const ajv = new Ajv({ useDefaults: true, strict: false });
  const validate = ajv.compile(train.params);
  assert.ok(validate({ timeBudget: '1h50m' }));
  assert.ok(validate({ timeBudget: 110 }));
  assert.ok(!validate({ timeBudget: '2 hours' }));
  assert.ok(!validate({ timeBudget: 0 }));
});

test('class weights (one of them 0), label smoothing and an L2 regulariser train the same on two replica threads as in one', async () => {
  const { createStep } = await import('../../src/train/step.js');
  const { createOptimizer } = await import('../../src/train/optimizers.js');
  const { smoothedTargets } = await import('../../src/model/loss.js');
  const { tf } = await loadTf('cpu');
  const layers = TINY_LAYERS.filter((l) => !('dropout' in l)).map((l) => ('dense' in l ? { dense: { ...l.dense, l2: 0.01 } } : l));
  const built = await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers }, backend: 'cpu', seed: 4 });
  const ds = quadrantDataset({ perClass: { train: 8 } });
  const batch = new BatchBuilder(ds, transformOf(ds.metadata), 32).build(rowsOfSplit(ds, 'train'), 0);
  const targets = smoothedTargets(batch.labels, 4, 0.1);
  const classWeights = [0.5, 0, 2, 1.5];
  const weights = Float32Array.from(batch.labels, (l) => classWeights[l]);
  const results = [];
  for (const replicas of [1, 2]) {
    const model = await loadModel(tf, built.outputs.model);
    const optimizer = createOptimizer(tf, { name: 'sgd', learningRate: 0.5 });
    // The step the training loop runs.
    const step = await createStep(tf, model, optimizer, replicas);
    assert.equal(step.replicas, replicas);
    const first = await step.run(batch, targets, weights, []);
    const second = await step.run(batch, targets, weights, []);
    results.push({ steps: [first, second], weights: model.getWeights().map((w) => Array.from(w.dataSync())) });
    await step.dispose();
    optimizer.dispose();
    model.dispose();
  }
  const [one, two] = results;
  for (let k = 0; k < 2; k++) {
    assert.ok(Math.abs(one.steps[k].loss - two.steps[k].loss) < 1e-5, `step ${k + 1}: ${one.steps[k].loss} vs ${two.steps[k].loss}`);
    assert.equal(one.steps[k].correct, two.steps[k].correct, `step ${k + 1}: rows right`);
  }
  assert.ok(one.steps[1].loss < one.steps[0].loss, 'the step learns');
  one.weights.forEach((w, k) => w.forEach((v, j) => assert.ok(Math.abs(v - two.weights[k][j]) < 1e-4, `weight ${k}[${j}]`)));
});
