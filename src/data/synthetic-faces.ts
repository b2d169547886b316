// A seeded dataset of cartoon faces in FER2013's seven expression classes: class sizes from weights, stratified
// splits, and one independent random stream per image so that image i is the same whatever the count.
import { PipeError } from '../errors.js';
import { eventLoopTurns } from '../event-loop.js';
import { drawFace } from './face-drawing.js';
import { EXPRESSIONS, sampleFace } from './face-expressions.js';
import type { ImageDataset } from './image-dataset.js';
import { createRandom } from './random.js';

/** FER2013's rows per class (all splits), the default imbalance. */
export const FER2013_CLASS_COUNTS = [4953, 547, 5121, 8989, 6077, 4002, 6198];

export type Imbalance = 'fer2013' | 'balanced' | Record<string, number>;

export interface SyntheticFacesOptions {
  count: number;
  imbalance: Imbalance;
  /** Split name → fraction of rows; fractions sum to 1. */
  splits: Record<string, number>;
  seed: number;
  /** Image side in pixels. */
  size: number;
}

/** Split `total` into integer parts proportional to `weights` (largest remainder; ties to the earlier part). */
export function apportion(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, k) => [x - Math.floor(x), k]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, k] of order) {
    if (left-- <= 0) break;
    parts[k]++;
  }
  return parts;
}

export function classWeights(imbalance: Imbalance): number[] {
  if (imbalance === 'fer2013') return FER2013_CLASS_COUNTS.slice();
  if (imbalance === 'balanced') return EXPRESSIONS.map(() => 1);
  for (const name of Object.keys(imbalance)) {
    if (!(EXPRESSIONS as readonly string[]).includes(name)) {
      throw new PipeError(`imbalance names class '${name}', which synthetic faces do not have`, { hint: `classes are: ${EXPRESSIONS.join(', ')}` });
    }
  }
  const weights = EXPRESSIONS.map((c) => imbalance[c] ?? 0);
  if (!weights.some((w) => w > 0)) throw new PipeError('imbalance gives every class weight 0', { hint: 'give at least one class a positive weight' });
  return weights;
}

/** The dataset for `options`; stops between faces once `signal` is aborted. */
export async function generateSyntheticFaces(
  options: SyntheticFacesOptions,
  onProgress?: (done: number) => void,
  signal?: AbortSignal,
): Promise<ImageDataset> {
  const { count, size, seed } = options;
  const splitNames = Object.keys(options.splits);
  const fractions = Object.values(options.splits);
  const fractionSum = fractions.reduce((a, b) => a + b, 0);
  if (splitNames.length === 0 || Math.abs(fractionSum - 1) > 1e-6) {
    throw new PipeError(`split fractions must add up to 1, they add up to ${fractionSum}`, { hint: 'e.g. splits: { train: 0.8, validation: 0.1, test: 0.1 }' });
  }
  const perClass = apportion(count, classWeights(options.imbalance));
  const labels = new Uint8Array(count);
  let at = 0;
  perClass.forEach((n, k) => labels.fill(k, at, (at += n)));
  const order = createRandom(seed, 0);
  order.shuffle(labels);
  // Stratified splits: each class's rows, in their shuffled order, are dealt out by the fractions.
  const splitCodes = new Int8Array(count);
  const perClassSplits = perClass.map((n) => apportion(n, fractions));
  const dealt = perClass.map(() => 0);
  for (let i = 0; i < count; i++) {
    const k = labels[i];
    const quota = perClassSplits[k];
    let position = dealt[k]++;
    let s = 0;
    while (position >= quota[s]) position -= quota[s++];
    splitCodes[i] = s;
  }
  const pixels = new Uint8Array(count * size * size);
  const turn = eventLoopTurns();
  for (let i = 0; i < count; i++) {
    await turn();
    signal?.throwIfAborted();
    const random = createRandom(seed, 1, i);
    pixels.set(drawFace(sampleFace(labels[i], random, size), size, () => random.normal()), i * size * size);
    if (onProgress && i % 500 === 499) onProgress(i + 1);
  }
  return {
    shape: [size, size, 1],
    classes: [...EXPRESSIONS],
    labels,
    pixels,
    splitNames,
    splitCodes,
    source: Uint32Array.from({ length: count }, (_, i) => i),
    metadata: { 'pipe.synthetic': JSON.stringify({ generator: 'synthetic-faces', seed, imbalance: options.imbalance }) },
  };
}
