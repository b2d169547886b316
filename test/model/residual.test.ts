// Residual blocks in the layer spec: a functional model with an Add per block and a 1×1 projection on the
// shortcut when the shapes differ, seeded like every other layer, summarised, saved and loaded again; shape
// problems inside a block are found before anything is built, at the inner layer's path.
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
import { checkLayerShapes } from '../../src/model/layers/check-shapes.js';
import { specToTopology, type LayerSpecItem } from '../../src/model/layers/spec.js';
import { paperLayers } from '../../src/model/paper-cnn.js';
import type { ModelSummary } from '../../src/formats/model-summary.js';
import { RESIDUAL_LAYERS } from '../support/quadrant-dataset.js';

const build = (layers: LayerSpecItem[], seed = 5) => runStage(buildModel, { params: { inputShape: [12, 12, 1], layers }, backend: 'cpu', seed });

test('a spec without residual blocks stays a Sequential model', () => {
  const topology = specToTopology(paperLayers(), [48, 48, 1], 1);
  assert.equal(topology.class_name, 'Sequential');
  assert.ok(topology.config.layers.every((l) => l.inbound_nodes === undefined));
  assert.deepEqual(topology.config.layers[0].config.batch_input_shape, [null, 48, 48, 1]);
});

test('a residual block builds a functional model: the layers, a projected shortcut and an add', async () => {
  const result = await build(RESIDUAL_LAYERS);
  const summary = JSON.parse(await readFile(result.outputs.summary, 'utf8')) as ModelSummary;
  const row = (name: string) => summary.layers.find((l) => l.name === name)!;
  assert.ok(!summary.layers.some((l) => l.className === 'InputLayer'), 'the input layer is the summary’s inputShape, not a row');
  assert.deepEqual(row('conv2d_2').outputShape, [null, 6, 6, 8]);
  // The shortcut: a 1×1 convolution with stride 2 and 8 filters, no bias (a batch norm follows it): 4·8 weights.
  assert.equal(row('residual_1_shortcut').className, 'Conv2D');
  assert.equal(row('residual_1_shortcut').params, 32);
  assert.deepEqual(row('residual_1_shortcut').outputShape, [null, 6, 6, 8]);
  assert.equal(row('residual_1_shortcut_bn').className, 'BatchNormalization');
  assert.equal(row('residual_1_add').className, 'Add');
  assert.equal(row('residual_1_activation').className, 'Activation');
  // The second block keeps the shape: its shortcut is the input itself.
  assert.ok(!summary.layers.some((l) => l.name.startsWith('residual_2_shortcut')));
  assert.equal(row('residual_2_add').className, 'Add');
  // conv 9·1·4+4, 9·4·8+8, BN 4·8, conv 9·8·8+8, BN 4·8, shortcut 32 + BN 32, conv 9·8·8+8, dense 8·4+4
  assert.equal(summary.totalParams, 40 + 296 + 32 + 584 + 32 + 32 + 32 + 584 + 36);
  assert.equal(summary.nonTrainableParams, 3 * 16);
  const table = await readFile(result.outputs.summaryText, 'utf8');
  assert.match(table, /residual_1_add \(Add\)\s+\(None, 6, 6, 8\)\s+0/);

  const json = JSON.parse(await readFile(join(result.outputs.model, 'model.json'), 'utf8'));
  const layers = json.modelTopology.config.layers as Array<{ name: string; inbound_nodes: Array<Array<[string]>> }>;
  const inbound = (name: string) => layers.find((l) => l.name === name)!.inbound_nodes[0].map((n) => n[0]);
  assert.deepEqual(inbound('residual_1_shortcut'), ['conv2d_1']);
  assert.deepEqual(inbound('residual_1_add').sort(), ['batch_normalization_2', 'residual_1_shortcut_bn']);
  assert.deepEqual(inbound('residual_2_add').sort(), ['dropout_1', 'residual_1_activation']);

  // The saved model loads and computes what the block says: the add of the branch and the shortcut.
  const { tf } = await loadTf('cpu');
  const model = await loadModel(tf, result.outputs.model);
  assert.deepEqual(model.outputs[0].shape, [null, 4]);
  const x = tf.randomUniform([2, 12, 12, 1], 0, 1, 'float32', 3);
  const probabilities = model.predict(x) as import('@tensorflow/tfjs').Tensor;
  const sums = Array.from(probabilities.sum(-1).dataSync());
  sums.forEach((s) => assert.ok(Math.abs(s - 1) < 1e-5));
  tf.dispose([x, probabilities]);
  model.dispose();
});

test('residual models are seeded: the same seed gives the same bytes, every kernel and dropout has a seed', async () => {
  const files = async (seed: number) => {
    const r = await build(RESIDUAL_LAYERS, seed);
    return { json: await readFile(join(r.outputs.model, 'model.json'), 'utf8'), weights: await readFile(join(r.outputs.model, 'weights.bin')) };
  };
  const [a, b, c] = [await files(1), await files(1), await files(2)];
  assert.equal(a.json, b.json);
  assert.ok(a.weights.equals(b.weights));
  assert.ok(!a.weights.equals(c.weights));
  const topology = specToTopology(RESIDUAL_LAYERS, [12, 12, 1], 1);
  const seeds = topology.config.layers.flatMap((l) => {
    const config = l.config as { kernel_initializer?: { config: { seed: number } }; seed?: number };
    return [config.kernel_initializer?.config.seed, config.seed].filter((s) => s !== undefined);
  });
  // five kernels (four convolutions and the shortcut), the dense kernel and the dropout: all distinct.
  assert.equal(seeds.length, 7);
  assert.equal(new Set(seeds).size, 7);
});

test('a residual block is checked by the schema: its params, and no block inside a block', () => {
  const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
  const validate = ajv.compile(buildModel.params);
  assert.equal(validate({ layers: RESIDUAL_LAYERS }), true, JSON.stringify(validate.errors));
  assert.equal(validate({ layers: [{ residual: { layers: [{ conv2d: { filters: 2, kernelSize: 3 } }], projection: 'always' } }] }), false);
  assert.ok(validate.errors!.some((e) => e.instancePath === '/layers/0/residual/projection' && e.keyword === 'enum'));
  assert.equal(validate({ layers: [{ residual: { layers: [{ residual: { layers: [{ flatten: null }] } }] } }] }), false);
  assert.ok(validate.errors!.some((e) => e.instancePath === '/layers/0/residual/layers/0' && e.keyword === 'additionalProperties'));
  assert.equal(validate({ layers: [{ residual: { layers: [{ conv2d: { filter: 2, kernelSize: 3 } }] } }] }), false);
  assert.ok(validate.errors!.some((e) => e.instancePath === '/layers/0/residual/layers/0/conv2d'));
});

test('the shape check walks into a block and names the inner layer', () => {
  const block = (layers: LayerSpecItem[], extra: Record<string, unknown> = {}): LayerSpecItem[] => [
    { conv2d: { filters: 4, kernelSize: 3, padding: 'same' } },
    { residual: { layers, ...extra } },
    { flatten: null },
    { dense: { units: 4, activation: 'softmax' } },
  ];
  assert.deepEqual(checkLayerShapes(block([{ conv2d: { filters: 4, kernelSize: 3, padding: 'same' } }]), [12, 12, 1]), []);
  assert.deepEqual(checkLayerShapes(block([{ conv2d: { filters: 8, kernelSize: 3, strides: 2, padding: 'same' } }]), [12, 12, 1]), []);

  // projection: none refuses a block that changes the shape, at the layer that changes it for good.
  const [none] = checkLayerShapes(
    block([{ conv2d: { filters: 4, kernelSize: 3, padding: 'same' } }, { conv2d: { filters: 8, kernelSize: 1 } }, { batchNormalization: {} }], { projection: 'none' }),
    [12, 12, 1],
  );
  assert.deepEqual(none.at, ['layers', 1, 'residual', 'layers', 1, 'conv2d']);
  assert.match(none.message, /^layers\[1\]\.residual\.layers\[1\] \(conv2d\): its layers turn its input \[12, 12, 4\] into \[12, 12, 8\], which cannot be added to the input with projection: none/);
  assert.match(none.hint ?? '', /projection: auto/);

  // A layer inside a block that does not fit is named with its path inside the block.
  const [inner] = checkLayerShapes(block([{ conv2d: { filters: 4, kernelSize: 30 } }]), [12, 12, 1]);
  assert.deepEqual(inner.at, ['layers', 1, 'residual', 'layers', 0, 'conv2d', 'kernelSize']);
  assert.match(inner.message, /^layers\[1\]\.residual\.layers\[0\] \(conv2d\): input \[12, 12, 4\] → output/);

  // Valid padding shrinks the image by other than a stride: no 1×1 shortcut meets it.
  const [valid] = checkLayerShapes(block([{ conv2d: { filters: 4, kernelSize: 3 } }]), [12, 12, 1]);
  assert.deepEqual(valid.at, ['layers', 1, 'residual', 'layers', 0, 'conv2d']);
  assert.match(valid.message, /into \[10, 10, 4\], which no strided 1×1 convolution of the input matches/);
  assert.match(valid.hint ?? '', /padding: same/);

  // A flatten inside a block: an image in, a vector out.
  const [flat] = checkLayerShapes(block([{ flatten: null }]), [12, 12, 1]);
  assert.match(flat.message, /a block must give what it takes/);
});

test('build-model refuses a mismatched block with projection: none before building', async () => {
  const layers: LayerSpecItem[] = [
    { residual: { layers: [{ conv2d: { filters: 8, kernelSize: 3, padding: 'same' } }], projection: 'none' } },
    { flatten: null },
    { dense: { units: 4, activation: 'softmax' } },
  ];
  await assert.rejects(
    build(layers),
    (err: unknown) => err instanceof PipeError && /layers\[0\]\.residual\.layers\[0\] \(conv2d\): its layers turn its input \[12, 12, 1\] into \[12, 12, 8\]/.test(err.message),
  );
});
