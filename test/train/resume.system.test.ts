// Resuming: a train stage killed (SIGKILL) in a child process after its first checkpoint resumes from that
// epoch when run again with the same scratch directory, and ends where an uninterrupted run ends: the same
// history and the same weights, to the bit, whatever the epoch it stopped after.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import buildModel from '../../stages/build-model.js';
import train from '../../stages/train.js';
import { PipeError } from '../../src/errors.js';
import { loadModel } from '../../src/model/model-io.js';
import { train as trainLoop, type TrainOptions } from '../../src/train/loop.js';
import { loadTf } from '../../src/tf/backend.js';
import { runStage } from '../../harness/stage-harness.js';
import { TINY_LAYERS, quadrantDataset, quadrantTrainContext, writeQuadrantDataset } from '../support/quadrant-dataset.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CHILD = join(here, '..', 'support', 'run-stage-child.js');
const TRAIN_MODULE = resolve(here, '..', '..', 'stages', 'train.js');
const EPOCHS = 8;

const withoutTimes = (epochs: Array<Record<string, number>>) => epochs.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);

test('a killed training run resumes from its last checkpoint and finishes all epochs', async () => {
  const model = (await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers: TINY_LAYERS }, backend: 'cpu', seed: 4 })).outputs.model;
  const data = await writeQuadrantDataset({ perClass: { train: 32, validation: 8 } });
  const params = {
    epochs: EPOCHS,
    batchSize: 16,
    optimizer: { name: 'adam', learningRate: 0.01 },
    schedule: { type: 'cosine', minLr: 0.001 },
    labelSmoothing: 0.1,
    augment: { flipHorizontal: true, shift: 0.1, rotation: 10 },
  };
  const work = await mkdtemp(join(tmpdir(), 'pipe-resume-'));
  const scratchDir = join(work, 'scratch');
  const jobFile = join(work, 'job.json');
  await writeFile(
    jobFile,
    JSON.stringify({ stage: TRAIN_MODULE, params, inputs: { model, data }, scratchDir, backend: 'cpu', seed: 9, resultFile: join(work, 'result.json') }),
  );

  const child = spawn(process.execPath, [CHILD, jobFile], { stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((done) => child.on('exit', (_code, signal) => done(signal)));
  let killed = false;
  // Kill as soon as the first checkpoint is complete (its pointer file appears atomically).
  while (!killed && child.exitCode === null) {
    if (existsSync(join(scratchDir, 'checkpoint.json'))) {
      killed = child.kill('SIGKILL');
    } else {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  assert.equal(await exited, 'SIGKILL', 'the child finished before it could be killed');
  const { epoch: checkpointEpoch } = JSON.parse(await readFile(join(scratchDir, 'checkpoint.json'), 'utf8'));
  assert.ok(checkpointEpoch >= 1 && checkpointEpoch < EPOCHS, `checkpoint after epoch ${checkpointEpoch}`);

  const resumed = await runStage(train, { params, inputs: { model, data }, backend: 'cpu', seed: 9, scratchDir });
  assert.equal(resumed.notes[0], `resuming from the checkpoint after epoch ${checkpointEpoch} of ${params.epochs}`);
  assert.ok(!resumed.progress.some((m) => m.startsWith(`epoch ${checkpointEpoch}/`)), 'a finished epoch was trained again');
  const history = JSON.parse(await readFile(resumed.outputs.history, 'utf8'));
  assert.equal(history.resumedFromEpoch, checkpointEpoch);
  assert.deepEqual(history.epochs.map((e: { epoch: number }) => e.epoch), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal((resumed.summary as { resumedFromEpoch: number }).resumedFromEpoch, checkpointEpoch);

  // The resumed run is the run that was never interrupted: the same history and the same weights, to the bit.
  const whole = await runStage(train, { params, inputs: { model, data }, backend: 'cpu', seed: 9 });
  const wholeHistory = JSON.parse(await readFile(whole.outputs.history, 'utf8'));
  assert.deepEqual(withoutTimes(history.epochs), withoutTimes(wholeHistory.epochs));
  assert.ok(
    (await readFile(join(resumed.outputs.model, 'weights.bin'))).equals(await readFile(join(whole.outputs.model, 'weights.bin'))),
    'the resumed weights differ from the uninterrupted run',
  );
});

// Batch norm (moving statistics), dropout and augmentation draw on every kind of state a resume must restore.
const LAYERS = [
  { conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } },
  { batchNormalization: {} },
  { maxPooling2d: { poolSize: 2 } },
  { flatten: null },
  { dropout: { rate: 0.2 } },
  { dense: { units: 4, activation: 'softmax' } },
];

for (const optimizer of [
  { name: 'adam' as const, learningRate: 0.01 },
  { name: 'rmsprop' as const, learningRate: 0.005, momentum: 0.5 },
  { name: 'adamw' as const, learningRate: 0.01, weightDecay: 0.05 },
]) {
  test(`${optimizer.name}: a run stopped after epoch 3 and resumed ends with the history and weights of an uninterrupted run`, async () => {
    const { tf } = await loadTf('cpu');
    const modelDir = (await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers: LAYERS }, backend: 'cpu', seed: 6 })).outputs.model;
    const dataset = quadrantDataset({ perClass: { train: 32, validation: 8 } });
    const options: TrainOptions = {
      optimizer,
      schedule: { type: 'cosine', minLr: 0.001 },
      labelSmoothing: 0.1,
      batchSize: 16,
      epochs: 6,
      classWeights: null,
      augment: { flipHorizontal: true, shift: 0.1, rotation: 10, zoom: 0.1 },
      replicas: 1,
    };
    const weightsOf = (model: Awaited<ReturnType<typeof loadModel>>) => model.getWeights().map((w) => Array.from(w.dataSync()));

    const whole = await loadModel(tf, modelDir);
    const uninterrupted = await trainLoop(await quadrantTrainContext(tf, whole, dataset, { fingerprint: 'exact' }), options);

    // Stopped in epoch 4, as a Ctrl-C after epoch 3's checkpoint would stop it.
    const abort = new AbortController();
    const stoppedModel = await loadModel(tf, modelDir);
    const stopped = await quadrantTrainContext(tf, stoppedModel, dataset, {
      fingerprint: 'exact',
      signal: abort.signal,
      progress: { update() {}, note: (line) => void (line.startsWith('epoch 3/6 ') && abort.abort()) },
    });
    await assert.rejects(trainLoop(stopped, options), (err: unknown) => err instanceof PipeError && /after epoch 3 is kept/.test(err.message));
    stoppedModel.dispose();

    // The next run starts from the built model again, as a new process would.
    const resumedModel = await loadModel(tf, modelDir);
    const resumed = await trainLoop({ ...stopped, model: resumedModel, signal: new AbortController().signal }, options);
    assert.equal(resumed.resumedFromEpoch, 3);
    const times = (h: typeof resumed.history) => h.map(({ seconds: _s, imagesPerSecond: _i, ...rest }) => rest);
    assert.deepEqual(times(resumed.history), times(uninterrupted.history));
    assert.deepEqual(weightsOf(resumedModel), weightsOf(whole), 'the resumed weights differ from the uninterrupted run');
    whole.dispose();
    resumedModel.dispose();
  });
}
