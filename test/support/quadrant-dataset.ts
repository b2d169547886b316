// A tiny synthetic image dataset that a small CNN learns in seconds: 12×12 grey images of noise where one
// quadrant is bright; the class is the bright quadrant. Deterministic for a seed.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { rowsOfSplit, writeDataset, type ImageDataset } from '../../src/data/image-dataset.js';
import { transformOf } from '../../src/data/normalisation.js';
import type { TrainContext } from '../../src/train/loop.js';
import { createRandom } from '../../src/data/random.js';
import type { LayerSpecItem } from '../../src/model/layers/spec.js';

export const QUADRANT_CLASSES = ['top-left', 'top-right', 'bottom-left', 'bottom-right'];

export interface QuadrantOptions {
  size?: number;
  /** Rows per class in each split. */
  perClass?: Record<string, number>;
  seed?: number;
  /** Extra schema metadata (e.g. a pipe.normalise transform). */
  metadata?: Record<string, string>;
  /** Rows per class override for the train split only, to make it imbalanced: counts by class index. */
  trainCounts?: number[];
}

export function quadrantDataset(options: QuadrantOptions = {}): ImageDataset {
  const size = options.size ?? 12;
  const perClass = options.perClass ?? { train: 40, validation: 10, test: 10 };
  const rng = createRandom(options.seed ?? 7);
  const splitNames = Object.keys(perClass);
  const labels: number[] = [];
  const splits: number[] = [];
  splitNames.forEach((split, s) => {
    QUADRANT_CLASSES.forEach((_, c) => {
      const n = split === 'train' && options.trainCounts ? options.trainCounts[c] : perClass[split];
      for (let i = 0; i < n; i++) {
        labels.push(c);
        splits.push(s);
      }
    });
  });
  const n = labels.length;
  const pixels = new Uint8Array(n * size * size);
  const half = size / 2;
  for (let i = 0; i < n; i++) {
    const qy = labels[i] >> 1;
    const qx = labels[i] & 1;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const bright = Math.floor(y / half) === qy && Math.floor(x / half) === qx;
        pixels[i * size * size + y * size + x] = bright ? 150 + rng.int(100) : rng.int(110);
      }
    }
  }
  return {
    shape: [size, size, 1],
    classes: [...QUADRANT_CLASSES],
    labels: Uint8Array.from(labels),
    pixels,
    splitNames,
    splitCodes: Int8Array.from(splits),
    source: Uint32Array.from({ length: n }, (_, i) => i),
    metadata: options.metadata ?? {},
  };
}

/** Write a quadrant dataset to a fresh temp folder; returns the .arrow path. */
export async function writeQuadrantDataset(options: QuadrantOptions = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-quadrants-'));
  const path = join(dir, 'data.arrow');
  await writeDataset(path, quadrantDataset(options));
  return path;
}

/** A small CNN for 12×12×1 inputs and 4 classes (build-model params). */
export const TINY_LAYERS = [
  { conv2d: { filters: 4, kernelSize: 3, activation: 'relu' } },
  { maxPooling2d: { poolSize: 2 } },
  { flatten: null },
  { dropout: { rate: 0.1 } },
  { dense: { units: 4, activation: 'softmax' } },
];

/**
 * The train loop's context for a quadrant dataset in memory: its train and validation rows, a fresh scratch
 * folder and a silent log; `fields` gives the fingerprint and whatever a test watches (progress, signal, clock).
 */
export async function quadrantTrainContext(
  tf: TrainContext['tf'],
  model: TrainContext['model'],
  dataset: ImageDataset,
  fields: Pick<TrainContext, 'fingerprint'> & Partial<Pick<TrainContext, 'progress' | 'signal' | 'now'>>,
): Promise<TrainContext> {
  return {
    tf,
    model,
    dataset,
    transform: transformOf(dataset.metadata),
    trainRows: rowsOfSplit(dataset, 'train'),
    validationRows: rowsOfSplit(dataset, 'validation'),
    seed: 5,
    scratchDir: await mkdtemp(join(tmpdir(), 'pipe-train-scratch-')),
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    progress: { update() {} },
    ...fields,
  };
}

/**
 * A small residual net for the same images (build-model params): a stem, a downsampling block (projected
 * shortcut with batch norm), an identity block with dropout, and a classifier.
 */
export const RESIDUAL_LAYERS: LayerSpecItem[] = [
  { conv2d: { filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' } },
  {
    residual: {
      layers: [
        { conv2d: { filters: 8, kernelSize: 3, strides: 2, padding: 'same' } },
        { batchNormalization: {} },
        { activation: { activation: 'relu' } },
        { conv2d: { filters: 8, kernelSize: 3, padding: 'same' } },
        { batchNormalization: {} },
      ],
      activation: 'relu',
    },
  },
  { residual: { layers: [{ conv2d: { filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' } }, { dropout: { rate: 0.1 } }] } },
  { globalAveragePooling2d: null },
  { dense: { units: 4, activation: 'softmax' } },
];

