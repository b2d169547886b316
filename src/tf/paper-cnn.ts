// The FER2013 paper's CNN (Keras-style, 48x48x1 input, 7 classes), used by benchmarks and tests as the
// reference workload for training speed. Shapes after each block: 46,46,23,21,21,10,8,4 → 2048 → 200 → 7.
import type { Tf } from './backend.js';

export interface PaperCnnOptions {
  inputSize?: number;
  classes?: number;
  seed?: number;
}

export function buildPaperCnn(tf: Tf, opts: PaperCnnOptions = {}) {
  const size = opts.inputSize ?? 48;
  const classes = opts.classes ?? 7;
  const seed = opts.seed ?? 1;
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed + k });
  const conv = (filters: number, padding: 'valid' | 'same', k: number, inputShape?: number[]) =>
    tf.layers.conv2d({ filters, kernelSize: 3, padding, activation: 'relu', kernelInitializer: init(k), ...(inputShape ? { inputShape } : {}) });
  const model = tf.sequential({
    layers: [
      conv(32, 'valid', 1, [size, size, 1]),
      conv(64, 'same', 2),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(64, 'valid', 3),
      conv(128, 'same', 4),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      conv(128, 'valid', 5),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 200, activation: 'relu', kernelInitializer: init(6) }),
      // No seed: a seeded tfjs dropout draws the same mask on every call.
      tf.layers.dropout({ rate: 0.6 }),
      tf.layers.dense({ units: classes, activation: 'softmax', kernelInitializer: init(8) }),
    ],
  });
  return model;
}
