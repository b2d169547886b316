// A residual network (a functional model, not a Sequential one) goes through what every model goes through:
// build-model, train on one replica and on two replica threads (with adamw), checkpoints and a resume, and
// evaluate. The loss goes down and the trained model reloads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import buildModel from '../../stages/build-model.js';
import train from '../../stages/train.js';
import evaluate from '../../stages/evaluate.js';
import { runStage } from '../../harness/stage-harness.js';
import { loadTf } from '../../src/tf/backend.js';
import { loadModel } from '../../src/model/model-io.js';
import { PipeError } from '../../src/errors.js';
import { train as trainLoop, type TrainOptions } from '../../src/train/loop.js';
import { RESIDUAL_LAYERS, quadrantDataset, quadrantTrainContext, writeQuadrantDataset } from '../support/quadrant-dataset.js';

const BACKEND = 'wasm';

for (const workers of [1, 2]) {
  test(`a residual net trains on ${workers} replica${workers > 1 ? 's' : ''}: the loss goes down, evaluate runs, the model reloads`, async () => {
    const model = (await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers: RESIDUAL_LAYERS }, backend: BACKEND, seed: 3 })).outputs.model;
    const data = await writeQuadrantDataset({ perClass: { train: 32, validation: 8, test: 8 } });
    const params = { epochs: 4, batchSize: 16, optimizer: { name: 'adamw', learningRate: 0.01, weightDecay: 0.01 }, workers };
    const trained = await runStage(train, { params, inputs: { model, data }, backend: BACKEND, seed: 9 });
    const history = JSON.parse(await readFile(trained.outputs.history, 'utf8')) as { epochs: Array<{ loss: number; val_loss: number }> };
    assert.equal(history.epochs.length, 4);
    const losses = history.epochs.map((e) => e.loss);
    assert.ok(losses[3] < losses[0], `training loss did not go down: ${losses.join(', ')}`);
    assert.ok(history.epochs.every((e) => Number.isFinite(e.val_loss)));

    const evaluated = await runStage(evaluate, { params: { splits: ['test'] }, inputs: { model: trained.outputs.model, data }, backend: BACKEND, seed: 9 });
    const metrics = JSON.parse(await readFile(evaluated.outputs.metrics, 'utf8')) as { splits: Record<string, { accuracy: number }> };
    assert.ok(metrics.splits.test.accuracy >= 0 && metrics.splits.test.accuracy <= 1);

    const { tf } = await loadTf(BACKEND);
    const reloaded = await loadModel(tf, trained.outputs.model);
    assert.ok(reloaded.layers.some((l) => l.getClassName() === 'Add'));
    assert.deepEqual(reloaded.outputs[0].shape, [null, 4]);
    reloaded.dispose();
  });
}

test('a residual net stopped after epoch 2 resumes from its checkpoint to the history and weights of an uninterrupted run', async () => {
  const { tf } = await loadTf('cpu');
  const modelDir = (await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers: RESIDUAL_LAYERS }, backend: 'cpu', seed: 3 })).outputs.model;
  const dataset = quadrantDataset({ perClass: { train: 16, validation: 4 } });
  const options: TrainOptions = {
    optimizer: { name: 'adamw', learningRate: 0.01, weightDecay: 0.05 },
    schedule: { type: 'cosine', minLr: 0.001 },
    labelSmoothing: 0,
    batchSize: 16,
    epochs: 4,
    classWeights: null,
    replicas: 1,
  };
  const whole = await loadModel(tf, modelDir);
  const uninterrupted = await trainLoop(await quadrantTrainContext(tf, whole, dataset, { fingerprint: 'residual' }), options);

  const abort = new AbortController();
  const stoppedModel = await loadModel(tf, modelDir);
  const stopped = await quadrantTrainContext(tf, stoppedModel, dataset, {
    fingerprint: 'residual',
    signal: abort.signal,
    progress: { update() {}, note: (line) => void (line.startsWith('epoch 2/4 ') && abort.abort()) },
  });
  await assert.rejects(trainLoop(stopped, options), (err: unknown) => err instanceof PipeError && /after epoch 2 is kept/.test(err.message));
  stoppedModel.dispose();

  const resumedModel = await loadModel(tf, modelDir);
  const resumed = await trainLoop({ ...stopped, model: resumedModel, signal: new AbortController().signal }, options);
  assert.equal(resumed.resumedFromEpoch, 2);
  const times = (h: typeof resumed.history) => h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
  assert.deepEqual(times(resumed.history), times(uninterrupted.history));
  const weightsOf = (m: typeof whole) => m.getWeights().map((w) => Array.from(w.dataSync()));
  assert.deepEqual(weightsOf(resumedModel), weightsOf(whole), 'the resumed weights differ from the uninterrupted run');
  whole.dispose();
  resumedModel.dispose();
});
