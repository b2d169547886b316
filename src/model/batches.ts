// Batches for training and evaluation, built from the dataset's uint8 pixels one batch at a time so memory stays
// bounded: pixels → normalised float32 (the dataset's recorded transform) → optional augmentation.
import type { ImageDataset } from '../data/image-dataset.js';
import { normaliseBatch, type NormaliseTransform } from '../data/normalisation.js';
import type { Random } from '../data/random.js';
import { augmentEnabled, augmentImage, type AugmentSpec } from './augment.js';

export interface Batch {
  /** size × h × w × c floats (a view into a reused buffer: consume before building the next batch). */
  x: Float32Array;
  /** size class indices. */
  labels: Uint8Array;
  size: number;
}

/** Builds batches of `rows` (in the given order) into reused buffers. */
export class BatchBuilder {
  private readonly imageSize: number;
  private readonly bytes: Uint8Array;
  private readonly x: Float32Array;
  private readonly scratch: Float32Array;
  private readonly labels: Uint8Array;

  constructor(
    private readonly ds: ImageDataset,
    private readonly transform: NormaliseTransform,
    readonly batchSize: number,
  ) {
    this.imageSize = ds.shape[0] * ds.shape[1] * ds.shape[2];
    this.bytes = new Uint8Array(batchSize * this.imageSize);
    this.x = new Float32Array(batchSize * this.imageSize);
    this.scratch = new Float32Array(this.imageSize);
    this.labels = new Uint8Array(batchSize);
  }

  /** Number of batches for `rowCount` rows (the last one may be smaller). */
  batchCount(rowCount: number): number {
    return Math.ceil(rowCount / this.batchSize);
  }

  /** Batch `index` of `order` (row indices into the dataset), augmented with `rng` when `augment` asks for it. */
  build(order: ArrayLike<number>, index: number, augment?: AugmentSpec, rng?: Random): Batch {
    const start = index * this.batchSize;
    const size = Math.min(this.batchSize, order.length - start);
    const s = this.imageSize;
    for (let j = 0; j < size; j++) {
      const row = order[start + j];
      this.bytes.set(this.ds.pixels.subarray(row * s, (row + 1) * s), j * s);
      this.labels[j] = this.ds.labels[row];
    }
    const x = normaliseBatch(this.bytes.subarray(0, size * s), this.transform, this.x.subarray(0, size * s));
    if (augmentEnabled(augment) && rng) {
      const [h, w, c] = this.ds.shape;
      for (let j = 0; j < size; j++) {
        const image = x.subarray(j * s, (j + 1) * s);
        this.scratch.set(image);
        augmentImage(this.scratch, image, h, w, c, augment!, rng);
      }
    }
    return { x, labels: this.labels.subarray(0, size), size };
  }
}
