// A small conv net with batch normalisation, max and average pooling (channel counts not multiples of 8, a
// 'same' pool with stride 2 over an odd size), trained a few plain SGD steps on fixed data on wasm: the
// tests run it in child processes with and without oneDNN and compare the weights. Plain SGD, because Adam
// turns a near-zero gradient's rounding into a whole step either way.
import { loadTf, type Tf } from '../../src/tf/backend.js';
import { loadOneDnn } from '../../src/tf/native/onednn.js';
import { randomData } from './kernel-values.js';

export interface TrainedBnPoolModel {
  weights: number[][];
  predictions: number[];
  /** The oneDNN primitives made in this process (none without oneDNN). */
  primitives: string[];
}

export async function trainBnPoolModel(tf: Tf): Promise<TrainedBnPoolModel> {
  await tf.setBackend('wasm');
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [11, 11, 3], filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.batchNormalization({ momentum: 0.8 }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      tf.layers.conv2d({ filters: 12, kernelSize: 2, padding: 'valid', activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.batchNormalization({ momentum: 0.8 }),
      tf.layers.averagePooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
  const n = 8;
  const x = tf.tensor4d(randomData(n * 11 * 11 * 3, 41), [n, 11, 11, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3);
  const optimizer = tf.train.sgd(0.1);
  for (let step = 0; step < 6; step++) {
    optimizer.minimize(() => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as ReturnType<Tf['tensor']>)) as ReturnType<Tf['scalar']>);
  }
  const predicted = model.predict(x) as ReturnType<Tf['tensor']>;
  const result = {
    weights: model.getWeights().map((w) => Array.from(w.dataSync())),
    predictions: Array.from(predicted.dataSync()),
    primitives: (() => {
      const found = loadOneDnn();
      return 'onednn' in found ? [...found.onednn.implementations().keys()] : [];
    })(),
  };
  tf.dispose([x, y, predicted]);
  model.dispose();
  return result;
}

/** Run as a child process: trains the model on wasm and prints the result as JSON. */
export async function printTrainedBnPoolModel(): Promise<void> {
  const { tf } = await loadTf('wasm');
  console.log(JSON.stringify(await trainBnPoolModel(tf)));
}
