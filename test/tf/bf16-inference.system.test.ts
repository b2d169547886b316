// Inference in the precision a model was trained in: train records it in the model folder, evaluate's
// `precision: auto` infers in bf16 for a model trained in bf16 (where the kernels run it natively) and in fp32
// for one trained in fp32, bf16 results stay close to fp32's, evaluate's cache key tells the resolutions apart
// by the same means as train's (params, the model's key, the 'bf16' runtime fact), and `pipe predict` follows
// the model too unless --precision says otherwise. Real stages, real CLI. The bf16-specific assertions are
// skipped where the CPU or the library lacks native bf16, except in CI on a CPU whose /proc/cpuinfo lists
// avx512_bf16: there they must run.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { resolvePrecision } from '../../src/tf/backend.js';
import { oneDnnPrecision } from '../../src/tf/native/onednn.js';
import { readModelTraining } from '../../src/model/model-io.js';
import { EXPORT_FORMAT, writeExportedModel } from '../../src/model/exported-model.js';
import { readMetrics } from '../../src/formats/metrics.js';
import { readPredictions } from '../../src/formats/predictions.js';
import { readDataset, rowsOfSplit } from '../../src/data/image-dataset.js';
import { transformOf } from '../../src/data/normalisation.js';
import { loadPipeline } from '../../src/config/load.js';
import { toPlanInput } from '../../src/exec/open-pipeline.js';
import { planPipeline, type RuntimeFacts } from '../../src/plan/plan.js';
import { runtimeFactsFor } from '../../src/plan/runtime-facts.js';
import synthesize from '../../stages/synthetic-faces.js';
import normalise from '../../stages/normalise.js';
import buildModel from '../../stages/build-model.js';
import train from '../../stages/train.js';
import evaluate from '../../stages/evaluate.js';
import { runStage } from '../../harness/stage-harness.js';
import { bf16, bf16Skip } from '../support/bf16.js';
import { pipeWithStore, TINY_PIPELINE } from '../support/tiny-pipeline.js';

const skip = bf16Skip;
/** What a model trained with `precision: bf16` was trained in here: bf16, or fp32 where bf16 is not available. */
const trainedBf16 = (await resolvePrecision('wasm', 'bf16')).precision;

// Channel counts and strides that run on oneDNN, as in test/tf/onednn-bf16.system.test.ts.
const LAYERS = [
  { conv2d: { filters: 8, kernelSize: 3, activation: 'relu' } },
  { batchNormalization: { momentum: 0.8 } },
  { maxPooling2d: { poolSize: 2 } },
  { conv2d: { filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' } },
  { maxPooling2d: { poolSize: 2 } },
  { flatten: {} },
  { dense: { units: 32, activation: 'relu' } },
  { dense: { units: 7, activation: 'softmax' } },
];

/**
 * How far bf16 inference may move accuracy from fp32's on the same model and rows. Each bf16 kernel is within
 * about 0.65 × 2^-8 of fp32 relative to its output's scale (test/tf/onednn-bf16.system.test.ts), so through
 * this network's four products the probabilities move by about 1%: a row's predicted class can change only
 * where its two most probable classes are that close, a few rows in a hundred at most for a model that has
 * learnt something, and every changed row moves accuracy by 1/rows at most, often not at all (it was wrong
 * both ways). 3 points holds with room on these 240 rows; the agreement of the predicted classes (at least 95%
 * of rows) bounds the same thing from the other side.
 */
const ACCURACY_TOLERANCE = 0.03;
const AGREEMENT = 0.95;

type Trained = { model: string; data: string };

async function evaluated(inputs: Trained, precision: 'auto' | 'fp32' | 'bf16') {
  const r = await runStage(evaluate, { params: { splits: ['test'], batchSize: 64, precision }, inputs, backend: 'wasm' });
  return { summary: r.summary as { precision: string; testAccuracy: number }, metrics: await readMetrics(r.outputs.metrics), predictions: await readPredictions(r.outputs.predictions) };
}

describe('inference in the precision the model was trained in', () => {
  let data: string;
  const models: Record<'fp32' | 'bf16', string> = { fp32: '', bf16: '' };

  before(async () => {
    const faces = await runStage(synthesize, {
      params: { count: 1200, size: 24, imbalance: 'balanced', splits: { train: 0.7, validation: 0.1, test: 0.2 } },
      seed: 5,
    });
    data = (await runStage(normalise, { params: { mode: 'scale' }, inputs: { data: faces.outputs.data } })).outputs.data;
    const built = (await runStage(buildModel, { params: { inputShape: [24, 24, 1], layers: LAYERS }, backend: 'wasm', seed: 3 })).outputs.model;
    for (const precision of ['fp32', 'bf16'] as const) {
      const params = { epochs: 3, batchSize: 32, optimizer: { name: 'adam', learningRate: 0.003 }, workers: 1, precision };
      models[precision] = (await runStage(train, { params, inputs: { model: built, data }, backend: 'wasm', seed: 9 })).outputs.model;
    }
  });

  it('train records the precision it trained in in the model folder; build-model records none', async () => {
    assert.deepEqual(await readModelTraining(models.fp32), { precision: 'fp32' });
    assert.deepEqual(await readModelTraining(models.bf16), { precision: trainedBf16 });
    const json = JSON.parse(await readFile(join(models.bf16, 'model.json'), 'utf8'));
    assert.deepEqual(json.userDefinedMetadata, { training: { precision: trainedBf16 } }, 'in model.json, where tfjs keeps user-defined metadata');
    const built = (await runStage(buildModel, { params: { inputShape: [24, 24, 1], layers: LAYERS }, backend: 'wasm' })).outputs.model;
    assert.equal(await readModelTraining(built), undefined);
  });

  it('a model trained in fp32 evaluates in fp32 under auto; fp32 and bf16 force their precision', async () => {
    const inputs = { model: models.fp32, data };
    const auto = await evaluated(inputs, 'auto');
    assert.equal(auto.metrics.precision, 'fp32');
    assert.equal(auto.summary.precision, 'fp32');
    const fp32 = await evaluated(inputs, 'fp32');
    assert.deepEqual(fp32.metrics, auto.metrics, 'auto is fp32 here, to the bit');
    // bf16 forced on an fp32-trained model: bf16 where available, else fp32 (with a warning, as train's).
    const forced = await evaluated(inputs, 'bf16');
    assert.equal(forced.metrics.precision, trainedBf16);
    assert.equal(oneDnnPrecision(), 'fp32', "the precision is evaluate's batches' alone");
  });

  it('a model trained in bf16 evaluates in the precision it was trained in under auto', async () => {
    const auto = await evaluated({ model: models.bf16, data }, 'auto');
    assert.equal(auto.metrics.precision, trainedBf16, 'bf16 where it trained in bf16; where bf16 is unavailable it trained and evaluates in fp32');
  });

  it('bf16 inference of a bf16-trained model: metrics say bf16, accuracy and predictions close to fp32 inference of the same model', { skip }, async (t) => {
    const inputs = { model: models.bf16, data };
    const auto = await evaluated(inputs, 'auto');
    const fp32 = await evaluated(inputs, 'fp32');
    assert.equal(auto.metrics.precision, 'bf16');
    assert.equal(fp32.metrics.precision, 'fp32');
    const a = auto.metrics.splits.test;
    const f = fp32.metrics.splits.test;
    assert.equal(a.count, f.count);
    assert.ok(f.accuracy > 1.5 / 7, `the model learnt something (chance is 1/7): fp32 accuracy ${f.accuracy}`);
    const p = auto.predictions.splits.test;
    const q = fp32.predictions.splits.test;
    const agree = p.predicted.filter((k, i) => k === q.predicted[i]).length / p.predicted.length;
    const maxDiff = Math.max(...p.probabilities.flatMap((row, i) => row.map((v, k) => Math.abs(v - q.probabilities[i][k]))));
    t.diagnostic(`accuracy bf16 ${a.accuracy.toFixed(4)} fp32 ${f.accuracy.toFixed(4)}; loss ${a.loss} vs ${f.loss}; argmax agree ${(agree * 100).toFixed(1)}% of ${p.predicted.length}; max |Δp| ${maxDiff.toFixed(4)}`);
    assert.ok(Math.abs(a.accuracy - f.accuracy) <= ACCURACY_TOLERANCE, `accuracy ${a.accuracy} in bf16 vs ${f.accuracy} in fp32`);
    assert.ok(agree >= AGREEMENT, `predicted classes agree on ${(agree * 100).toFixed(1)}% of rows`);
    assert.ok(maxDiff > 0, 'bf16 gave the fp32 probabilities exactly: it did not run in bf16');
    assert.equal(oneDnnPrecision(), 'fp32');
  });

  it('pipe predict infers in the model\'s trained precision by default, honours --precision and refuses other values', async () => {
    const runner = await pipeWithStore('pipe-bf16-predict-');
    const ds = await readDataset(data);
    const t = transformOf(ds.metadata);
    const exported = await mkdtemp(join(tmpdir(), 'pipe-bf16-export-'));
    await writeExportedModel(models.bf16, exported, {
      format: EXPORT_FORMAT,
      classes: ds.classes,
      inputShape: ds.shape,
      preprocessing: { colour: 'grey', fit: 'cover' },
      normalisation: { mode: t.mode, scale: t.scale, mean: t.mean, std: t.std },
      source: { pipeline: 'test', stage: 'train', key: 'k'.repeat(64), run: 'r' },
    });
    assert.deepEqual(await readModelTraining(exported), { precision: trainedBf16 }, 'export keeps the record');
    const images = await mkdtemp(join(tmpdir(), 'pipe-bf16-images-'));
    const [h, w] = ds.shape;
    for (const row of rowsOfSplit(ds, 'test').slice(0, 40)) {
      await sharp(Buffer.from(ds.pixels.subarray(row * h * w, (row + 1) * h * w)), { raw: { width: w, height: h, channels: 1 } })
        .png()
        .toFile(join(images, `${String(row).padStart(4, '0')}.png`));
    }
    type Out = { precision: string; predictions: { file: string; class: string; top: { class: string; probability: number }[] }[] };
    const predict = (...args: string[]) => {
      const r = runner.pipe(['predict', exported, images, '--backend', 'wasm', '--json', '--top', '7', ...args]);
      assert.equal(r.status, 0, r.stderr);
      return { out: JSON.parse(r.stdout) as Out, stderr: r.stderr };
    };
    const auto = predict();
    assert.equal(auto.out.precision, trainedBf16, 'auto: as the model was trained');
    const fp32 = predict('--precision', 'fp32');
    assert.equal(fp32.out.precision, 'fp32');
    const forced = predict('--precision=bf16');
    assert.equal(forced.out.precision, trainedBf16);
    if (trainedBf16 === 'fp32') assert.match(forced.stderr, /warning: precision bf16 is not available \(.*\): inference runs in fp32/);
    else {
      assert.equal(forced.stderr.includes('warning'), false, forced.stderr);
      // bf16 really ran: the probabilities moved a little, and the classes mostly stayed.
      const prob = (o: Out, i: number, c: string) => o.predictions[i].top.find((x) => x.class === c)!.probability;
      const diffs = fp32.out.predictions.map((p, i) => Math.abs(prob(auto.out, i, p.class) - prob(fp32.out, i, p.class)));
      assert.ok(Math.max(...diffs) > 0, 'the bf16 probabilities are the fp32 ones: --precision was not honoured');
      const agree = auto.out.predictions.filter((p, i) => p.class === fp32.out.predictions[i].class).length / auto.out.predictions.length;
      assert.ok(agree >= AGREEMENT, `predict's classes in bf16 and fp32 agree on ${agree * 100}%`);
    }

    const bad = runner.pipe(['predict', exported, images, '--precision', 'fp16']);
    assert.equal(bad.status, 2, bad.stderr);
    assert.match(bad.stderr, /--precision: 'fp16' is not one of auto, fp32, bf16/);
    assert.equal(bad.stdout, '');
    const help = runner.pipe(['predict', '--help']);
    assert.match(help.stdout, /--precision <p>\s+auto \| fp32 \| bf16 \(default auto\)/);
  });
});

describe("evaluate's cache key and its precision", () => {
  /** The tiny pipeline planned on wasm with these --set, on a machine with or without native bf16. */
  async function keys(sets: string[], machine: 'bf16' | 'no bf16') {
    const loaded = await loadPipeline(TINY_PIPELINE, { sets });
    const input = toPlanInput(loaded, 'wasm');
    const facts = runtimeFactsFor(input);
    // The 'bf16' runtime fact as each kind of machine gives it (src/plan/runtime-facts.ts).
    const as: RuntimeFacts = async (instance) => {
      const { bf16: _here, ...rest } = await facts(instance);
      return machine === 'bf16' && instance.stage.runtime?.includes('tensorflow') ? { ...rest, bf16: 'native' } : rest;
    };
    const plan = await planPipeline(input, { hashFile: async () => 'f', hashDir: async () => 'd' }, as);
    return { evaluate: plan.stages.evaluate, train: plan.stages.train };
  }

  it('holds what the resolved precision depends on: the param, the model (its key) and the bf16 runtime fact, as train\'s', async () => {
    const auto = await keys([], 'bf16');
    assert.equal(auto.evaluate.keyParts.params.precision, 'auto');
    assert.equal(auto.evaluate.keyParts.runtime.bf16, 'native', 'evaluate declares the tensorflow runtime facts, bf16 among them');
    assert.equal(auto.evaluate.keyParts.runtime.bf16, auto.train.keyParts.runtime.bf16);
    const fp32 = await keys(['evaluate.precision=fp32'], 'bf16');
    const bf16Forced = await keys(['evaluate.precision=bf16'], 'bf16');
    assert.equal(fp32.train.key, auto.train.key);
    assert.equal(new Set([auto.evaluate.key, fp32.evaluate.key, bf16Forced.evaluate.key]).size, 3, 'fp32 and bf16 (and auto) are different entries');
    // auto with a model trained in bf16 vs one trained in fp32: the model's key differs, so evaluate's does.
    const trainedBf16Key = await keys(['train.precision=bf16'], 'bf16');
    const trainedFp32Key = await keys(['train.precision=fp32'], 'bf16');
    assert.notEqual(trainedBf16Key.train.key, trainedFp32Key.train.key);
    assert.notEqual(trainedBf16Key.evaluate.key, trainedFp32Key.evaluate.key);
    // The same auto on a machine without native bf16 resolves to fp32: another entry, through the runtime fact.
    const elsewhere = await keys(['train.precision=bf16'], 'no bf16');
    assert.equal(elsewhere.evaluate.keyParts.runtime.bf16, undefined);
    assert.notEqual(elsewhere.evaluate.key, trainedBf16Key.evaluate.key);
  });
});
