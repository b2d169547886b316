// Kernel and bias initialisers of the layer spec, built for real on the cpu backend: each draws from the range and
// with the spread its definition gives (Keras's, or PyTorch's default for torchUniform), model.json says which one
// was used, and choosing a bias initialiser leaves every kernel's seed (and so its values) as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import buildModel from '../../stages/build-model.js';
import { runStage } from '../../harness/stage-harness.js';
import { loadTf } from '../../src/tf/backend.js';
import { loadModel } from '../../src/model/model-io.js';

// Keras's normals are cut at two standard deviations and widened to keep the variance; tfjs's are not widened,
// so the spec widens them itself (the variance check below would fail by 23% otherwise).
// conv: fan_in 3·3·16 = 144, fan_out 3·3·32 = 288; dense: fan_in 32·8·8 = 2048, fan_out 64.
function spec(conv: Record<string, unknown> = {}, dense: Record<string, unknown> = {}) {
  return [
    { conv2d: { filters: 32, kernelSize: 3, padding: 'same', ...conv } },
    { flatten: null },
    { dense: { units: 64, ...dense } },
    { dense: { units: 4, activation: 'softmax' } },
  ];
}

async function weightsOf(layers: unknown[], seed = 7): Promise<{ arrays: Float32Array[]; modelJson: any }> {
  const { tf } = await loadTf('cpu');
  const built = await runStage(buildModel, { params: { inputShape: [8, 8, 16], layers }, backend: 'cpu', seed });
  const model = await loadModel(tf, built.outputs.model);
  const arrays = model.getWeights().map((w) => w.dataSync() as Float32Array);
  model.dispose();
  return { arrays, modelJson: JSON.parse(await readFile(join(built.outputs.model, 'model.json'), 'utf8')) };
}

const variance = (a: Float32Array) => {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
};
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

test('kernel initialisers draw with the variance and range of their definitions', async () => {
  const [fanIn, fanOut] = [144, 288];
  const cases: Array<[string, number, number | null]> = [
    // name, variance, bound of a uniform draw (null: normal)
    ['glorotUniform', 2 / (fanIn + fanOut), Math.sqrt(6 / (fanIn + fanOut))],
    ['glorotNormal', 2 / (fanIn + fanOut), null],
    ['heUniform', 2 / fanIn, Math.sqrt(6 / fanIn)],
    ['heNormal', 2 / fanIn, null],
    ['lecunUniform', 1 / fanIn, Math.sqrt(3 / fanIn)],
    ['lecunNormal', 1 / fanIn, null],
    ['torchUniform', 1 / (3 * fanIn), 1 / Math.sqrt(fanIn)],
  ];
  for (const [name, expectedVariance, bound] of cases) {
    const { arrays, modelJson } = await weightsOf(spec({ kernelInitializer: name }));
    const kernel = arrays[0];
    assert.equal(kernel.length, 3 * 3 * 16 * 32);
    const v = variance(kernel);
    assert.ok(Math.abs(v / expectedVariance - 1) < 0.1, `${name}: variance ${v}, expected ${expectedVariance}`);
    if (bound !== null) {
      assert.ok(maxAbs(kernel) <= bound + 1e-7 && maxAbs(kernel) > 0.98 * bound, `${name}: max |w| ${maxAbs(kernel)}, bound ${bound}`);
    } else {
      // Keras draws normals truncated at two standard deviations (of the untruncated draw).
      assert.ok(maxAbs(kernel) <= 2 * Math.sqrt(expectedVariance / 0.7737) + 1e-6, `${name}: truncated`);
    }
    const recorded = modelJson.modelTopology.config.layers[0].config.kernel_initializer;
    assert.equal(typeof recorded.config.seed, 'number');
    assert.equal(recorded.class_name, 'VarianceScaling', 'tfjs writes every one of them as variance scaling');
    assert.equal(recorded.config.distribution, bound === null ? 'normal' : 'uniform');
  }
});

test("bias initialisers: zeros by default, a constant, or PyTorch's U(±1/√fan_in) from each layer's fan-in", async () => {
  const plain = await weightsOf(spec());
  assert.ok(plain.arrays[1].every((b) => b === 0), 'zeros by default');
  const constant = await weightsOf(spec({ biasInitializer: 0.1 }));
  assert.ok(constant.arrays[1].every((b) => Math.abs(b - 0.1) < 1e-7));

  const torch = await weightsOf(spec({ biasInitializer: 'torchUniform' }, { biasInitializer: 'torchUniform' }));
  const [convBias, denseBias] = [torch.arrays[1], torch.arrays[3]];
  for (const [bias, fanIn] of [[convBias, 144], [denseBias, 2048]] as const) {
    const bound = 1 / Math.sqrt(fanIn);
    assert.ok(maxAbs(bias) <= bound + 1e-7, `|b| ≤ ${bound}`);
    assert.ok(maxAbs(bias) > 0.7 * bound, 'the draws spread over the range');
    assert.ok(new Set(bias).size === bias.length, 'every bias its own draw');
  }
  const recorded = torch.modelJson.modelTopology.config.layers[0].config.bias_initializer;
  assert.equal(recorded.class_name, 'RandomUniform');
  assert.ok(Math.abs(recorded.config.maxval - 1 / 12) < 1e-12 && Math.abs(recorded.config.minval + 1 / 12) < 1e-12);
  // The last dense layer kept its zeros; and the kernels are those of the plain spec, value for value.
  assert.ok(torch.arrays[5].every((b) => b === 0));
  for (const k of [0, 2, 4]) assert.deepEqual(torch.arrays[k], plain.arrays[k], `kernel ${k} unchanged`);
});

test('separable convolutions take the initialiser for both kernels, and the fan-in of the pointwise one for the bias', async () => {
  const { arrays } = await weightsOf([
    { separableConv2d: { filters: 32, kernelSize: 3, kernelInitializer: 'heUniform', biasInitializer: 'torchUniform' } },
    { flatten: null },
    { dense: { units: 4, activation: 'softmax' } },
  ]);
  const [depthwise, pointwise, bias] = arrays;
  assert.ok(maxAbs(depthwise) <= Math.sqrt(6 / 9) + 1e-7, 'depthwise fan-in 3·3·1');
  assert.ok(maxAbs(pointwise) <= Math.sqrt(6 / 16) + 1e-7 && maxAbs(pointwise) > 0.9 * Math.sqrt(6 / 16), 'pointwise fan-in 16');
  assert.ok(maxAbs(bias) <= 1 / 4 + 1e-7 && maxAbs(bias) > 0.5 / 4, 'bias from the pointwise fan-in 16');
});
