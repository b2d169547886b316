// Resuming: a train stage killed (SIGKILL) in a child process after its first checkpoint resumes from that
// epoch when run again with the same scratch directory, and ends where an uninterrupted run ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import buildModel from '../stages/build-model.js';
import train from '../stages/train.js';
import { runStage } from './support/stage-harness.js';
import { TINY_LAYERS, writeQuadrantDataset } from './support/quadrant-dataset.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CHILD = join(here, 'support', 'run-stage-child.js');
const TRAIN_MODULE = resolve(here, '..', 'stages', 'train.js');
const EPOCHS = 8;

test('a killed training run resumes from its last checkpoint and finishes all epochs', async () => {
  const model = (await runStage(buildModel, { params: { inputShape: [12, 12, 1], layers: TINY_LAYERS }, backend: 'cpu', seed: 4 })).outputs.model;
  const data = await writeQuadrantDataset({ perClass: { train: 32, validation: 8 } });
  const params = { epochs: EPOCHS, batchSize: 16, optimizer: { name: 'adam', learningRate: 0.01 }, schedule: { type: 'cosine', minLr: 0.001 } };
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

  // The resumed run continues the same trajectory as one that was never interrupted.
  const whole = await runStage(train, { params, inputs: { model, data }, backend: 'cpu', seed: 9 });
  const wholeHistory = JSON.parse(await readFile(whole.outputs.history, 'utf8'));
  for (let i = 0; i < EPOCHS; i++) {
    const a = history.epochs[i];
    const b = wholeHistory.epochs[i];
    assert.equal(a.lr, b.lr);
    // Equal up to float rounding (Adam's bias correction is recomputed as a power on resume, not a running product).
    assert.ok(Math.abs(a.loss - b.loss) < 1e-4 && Math.abs(a.val_loss - b.val_loss) < 1e-4, `epoch ${i + 1}: ${a.loss} vs ${b.loss}`);
  }
});
