// build-model: the YAML layer spec becomes a tfjs model through the Keras serialization registry, with the
// paper CNN's Table 1 shapes, seeded (reproducible) weights, and schema errors that point at the bad field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import buildModel from '../../stages/build-model.js';
import { runStage } from '../../harness/stage-harness.js';
import { PipeError } from '../../src/errors.js';
import { loadTf } from '../../src/tf/backend.js';
import { loadModel } from '../../src/model/model-io.js';
import type { ModelSummary } from '../../src/formats/model-summary.js';
import { paperLayers } from '../../src/model/paper-cnn.js';

const PAPER_LAYERS = paperLayers();

test('the paper CNN spec builds with the shapes of the paper’s Table 1', async () => {
  const result = await runStage(buildModel, { params: { layers: PAPER_LAYERS }, backend: 'cpu', seed: 42 });
  const summary = JSON.parse(await readFile(result.outputs.summary, 'utf8')) as ModelSummary;
  const shapes = summary.layers
    .filter((l) => !['BatchNormalization', 'Dropout'].includes(l.className))
    .map((l) => `(${l.outputShape.map((d) => d ?? 'None').join(',')})`);
  assert.deepEqual(shapes, [
    '(None,46,46,32)', '(None,46,46,64)', '(None,23,23,64)', '(None,21,21,64)', '(None,21,21,128)', '(None,10,10,128)',
    '(None,8,8,128)', '(None,4,4,128)', '(None,2048)', '(None,200)', '(None,7)',
  ]);
  // conv 3·3·1·32+32, 3·3·32·64+64, BN 4·64, …, dense 2048·200+200, 200·7+7
  assert.equal(summary.totalParams, 689_671);
  assert.equal(summary.nonTrainableParams, 640);
  const table = await readFile(result.outputs.summaryText, 'utf8');
  assert.match(table, /conv2d_1 \(Conv2D\)\s+\(None, 46, 46, 32\)\s+320/);
  assert.match(table, /Total params: 689,671/);
  const { tf } = await loadTf('cpu');
  const model = await loadModel(tf, result.outputs.model);
  assert.deepEqual(model.outputs[0].shape, [null, 7]);
  assert.equal(model.layers.length, PAPER_LAYERS.length);
  model.dispose();
});

test('the same seed gives byte-identical weights; another seed gives others', async () => {
  const layers = [{ conv2d: { filters: 2, kernelSize: 3 } }, { flatten: {} }, { dropout: { rate: 0.5 } }, { dense: { units: 3, activation: 'softmax' } }];
  const build = async (seed: number) => {
    const r = await runStage(buildModel, { params: { inputShape: [6, 6, 1], layers }, backend: 'cpu', seed });
    return {
      weights: await readFile(join(r.outputs.model, 'weights.bin')),
      json: await readFile(join(r.outputs.model, 'model.json'), 'utf8'),
    };
  };
  const a = await build(1);
  const b = await build(1);
  const c = await build(2);
  assert.ok(a.weights.equals(b.weights));
  assert.equal(a.json, b.json);
  assert.ok(!a.weights.equals(c.weights));
  // Every initialiser and the dropout layer carry a seed.
  const topology = JSON.parse(a.json).modelTopology.config.layers;
  assert.equal(typeof topology[0].config.kernel_initializer.config.seed, 'number');
  assert.equal(typeof topology[2].config.seed, 'number');
  assert.equal(typeof topology[3].config.kernel_initializer.config.seed, 'number');
});

test('layer params are checked by the schema: typos and unknown layer types are rejected at their path', () => {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
  const validate = ajv.compile(buildModel.params);
  const errorsFor = (layers: unknown[]) => {
    assert.equal(validate({ layers }), false);
    return validate.errors!.map((e) => `${e.instancePath} ${e.keyword} ${JSON.stringify(e.params)}`);
  };
  assert.deepEqual(errorsFor([{ conv2d: { filters: 8, kernelSize: 3 } }, { conv2d: { filter: 8, kernelSize: 3 } }]), [
    '/layers/1/conv2d required {"missingProperty":"filters"}',
    '/layers/1/conv2d additionalProperties {"additionalProperty":"filter"}',
  ]);
  assert.deepEqual(errorsFor([{ conv2D: { filters: 8, kernelSize: 3 } }]), ['/layers/0 additionalProperties {"additionalProperty":"conv2D"}']);
  assert.ok(errorsFor([{ dropout: { rate: 1.5 } }]).includes('/layers/0/dropout/rate exclusiveMaximum {"comparison":"<","limit":1}'));
  assert.ok(errorsFor([{ dense: { units: 7, activation: 'softmaxx' } }]).some((e) => e.startsWith('/layers/0/dense/activation enum')));
  assert.ok(errorsFor([{ maxPooling2d: { poolSize: 2, padding: 'full' } }]).some((e) => e.startsWith('/layers/0/maxPooling2d/padding enum')));
  assert.ok(errorsFor([{ flatten: {}, dense: { units: 2 } }]).some((e) => e.includes('maxProperties')));
  // Param-less layers may be written bare (`- flatten:` is null in YAML); kernelSize may be [h, w].
  assert.equal(validate({ layers: [{ conv2d: { filters: 2, kernelSize: [3, 1] } }, { batchNormalization: null }, { flatten: null }] }), true);
});

test('a layer list that cannot make a network is a PipeError with a hint', async () => {
  const layers = [{ conv2d: { filters: 2, kernelSize: 5 } }, { conv2d: { filters: 2, kernelSize: 5 } }];
  await assert.rejects(
    runStage(buildModel, { params: { inputShape: [6, 6, 1], layers }, backend: 'cpu' }),
    (err: unknown) =>
      err instanceof PipeError &&
      /layers\[1\] \(conv2d\): input \[2, 2, 2\] → output \[-2, -2, 2\]: its kernelSize 5 does not fit in the 2×2 input/.test(err.message) &&
      /kernelSize ≤ 2/.test(err.hint ?? ''),
  );
});
