// AdamW (src/train/optimizers.ts): Adam's step plus a decay of the kernels by lr·weightDecay, with the rate the
// schedule set, apart from the gradient; biases are not decayed. Checked against the update written out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTf } from '../../src/tf/backend.js';
import { createOptimizer, setLearningRate } from '../../src/train/optimizers.js';

const { tf } = await loadTf('cpu');

/** Adam on one value, in doubles: (w, m, v) after step t with rate lr, decayed first by lr·wd (AdamW). */
function handStep(w: number, m: number, v: number, g: number, t: number, lr: number, wd: number) {
  const [b1, b2, eps] = [0.9, 0.999, 1e-7];
  const decayed = w - lr * wd * w;
  const m1 = b1 * m + (1 - b1) * g;
  const v1 = b2 * v + (1 - b2) * g * g;
  const step = (lr * (m1 / (1 - b1 ** t))) / (Math.sqrt(v1 / (1 - b2 ** t)) + eps);
  return { w: decayed - step, m: m1, v: v1 };
}

test('adamw: each step decays the kernel by lr·weightDecay·w beside the Adam update, and leaves the bias undecayed', async () => {
  const kernelStart = [0.5, -1.5, 2, 0.25];
  const biasStart = [0.3, -0.7];
  const kernel = tf.variable(tf.tensor2d(kernelStart, [2, 2]), true, 'adamw_test/kernel');
  const bias = tf.variable(tf.tensor1d(biasStart), true, 'adamw_test/bias');
  const gradients = [
    { kernel: [0.1, -0.2, 0.3, 0.05], bias: [0.4, -0.1] },
    { kernel: [-0.3, 0.1, 0.2, 0.0], bias: [0.2, 0.3] },
  ];
  const wd = 0.1;
  const optimizer = createOptimizer(tf, { name: 'adamw', learningRate: 0.05, weightDecay: wd });
  const rates = [0.05, 0.02];
  const state = {
    kernel: kernelStart.map((w) => ({ w, m: 0, v: 0 })),
    bias: biasStart.map((w) => ({ w, m: 0, v: 0 })),
  };
  gradients.forEach((g, s) => {
    // The rate a schedule sets for the step is the rate of its decay too.
    setLearningRate(optimizer, rates[s]);
    const grads = { [kernel.name]: tf.tensor2d(g.kernel, [2, 2]), [bias.name]: tf.tensor1d(g.bias) };
    optimizer.applyGradients(grads);
    tf.dispose(Object.values(grads));
    state.kernel = state.kernel.map((x, i) => handStep(x.w, x.m, x.v, g.kernel[i], s + 1, rates[s], wd));
    state.bias = state.bias.map((x, i) => handStep(x.w, x.m, x.v, g.bias[i], s + 1, rates[s], 0));
    const close = (actual: Float32Array, expected: number[], what: string) =>
      expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) < 1e-6, `${what}[${i}] after step ${s + 1}: ${actual[i]}, by hand ${e}`));
    close(kernel.dataSync() as Float32Array, state.kernel.map((x) => x.w), 'kernel');
    close(bias.dataSync() as Float32Array, state.bias.map((x) => x.w), 'bias');
  });
  // After one step, by hand: the decay is lr·wd·w = 0.05·0.1·0.5 on the first kernel value; Adam moves it by
  // lr·g/|g| (m̂ = g, v̂ = g² on the first step) = 0.05.
  const first = handStep(0.5, 0, 0, 0.1, 1, 0.05, wd).w;
  assert.ok(Math.abs(first - (0.5 - 0.05 * 0.1 * 0.5 - 0.05 * (0.1 / (0.1 + 1e-7)))) < 1e-12);

  // The slots are Adam's (moments named after the variables, and the step count), so checkpoints hold and restore
  // them as they do for adam.
  const slots = await optimizer.getWeights();
  assert.deepEqual(slots.map((w) => w.name).sort(), ['adamw_test/bias/m', 'adamw_test/bias/v', 'adamw_test/kernel/m', 'adamw_test/kernel/v', 'iter']);
  tf.dispose([slots.find((w) => w.name === 'iter')!.tensor, kernel, bias]);
  optimizer.dispose();
});

test('adamw with weightDecay 0 is adam', () => {
  const run = (name: 'adam' | 'adamw') => {
    const w = tf.variable(tf.tensor2d([1, -2, 3, 0.5], [2, 2]), true, `same_as_adam_${name}/kernel`);
    const optimizer = createOptimizer(tf, { name, learningRate: 0.01, weightDecay: 0 });
    for (let s = 0; s < 3; s++) {
      const g = { [w.name]: tf.tensor2d([0.1 * s, -0.2, 0.3, 0.4], [2, 2]) };
      optimizer.applyGradients(g);
      tf.dispose(Object.values(g));
    }
    const out = Array.from(w.dataSync());
    w.dispose();
    optimizer.dispose();
    return out;
  };
  assert.deepEqual(run('adamw'), run('adam'));
});
