// Pixel normalisation as a recorded affine transform instead of a float copy of the dataset.
//
// A float32 copy of an over-sampled FER2013 train split (~50k × 48 × 48) would take 4× the bytes of the uint8
// pixels, so datasets keep their uint8 pixels and carry the transform in their metadata (`pipe.normalise`);
// training and evaluation apply it one batch at a time with `normaliseBatch`:
//
//     value = (byte × scale − mean[c]) / std[c]        c = channel of the byte (HWC layout)
//
// `mean`/`std` have one entry per channel, or a single entry for all channels. `scale` mode is the special case
// scale = 1/255, mean = [0], std = [1] (values 0..1).
import { PipeError } from '../errors.js';

export const NORMALISE_KEY = 'pipe.normalise';

export interface NormaliseTransform {
  mode: 'scale' | 'standardise';
  /** Factor applied to raw bytes before mean/std (1/255). */
  scale: number;
  /** In scaled units; one per channel or one for all. */
  mean: number[];
  /** In scaled units; one per channel or one for all; never 0. */
  std: number[];
  /** Split whose rows the statistics came from (standardise only). */
  fitSplit?: string;
  /** Rows the statistics came from (standardise only). */
  fitRows?: number;
}

/** The transform used when a dataset records none: bytes scaled to 0..1. */
export const SCALE_TRANSFORM: NormaliseTransform = Object.freeze({ mode: 'scale', scale: 1 / 255, mean: [0], std: [1] }) as NormaliseTransform;

/** The transform recorded in a dataset's metadata, or 0..1 scaling when it has none. */
export function transformOf(metadata: Record<string, string>): NormaliseTransform {
  const text = metadata[NORMALISE_KEY];
  if (!text) return SCALE_TRANSFORM;
  const t = JSON.parse(text) as NormaliseTransform;
  if (!Array.isArray(t.mean) || !Array.isArray(t.std) || t.mean.length !== t.std.length || !(t.scale > 0)) {
    throw new PipeError(`dataset metadata ${NORMALISE_KEY} is malformed: ${text.slice(0, 200)}`);
  }
  return t;
}

// One 256-entry table per channel turns the affine map into a lookup (the same cost as a multiply-add, and exact
// to float32 rounding whatever the order of operations).
const tables = new WeakMap<NormaliseTransform, Float32Array>();

function lookupTable(t: NormaliseTransform): Float32Array {
  let table = tables.get(t);
  if (!table) {
    const channels = t.mean.length;
    table = new Float32Array(256 * channels);
    for (let c = 0; c < channels; c++) {
      for (let v = 0; v < 256; v++) table[c * 256 + v] = (v * t.scale - t.mean[c]) / t.std[c];
    }
    tables.set(t, table);
  }
  return table;
}

/**
 * Apply `transform` to a batch of HWC uint8 pixels (any number of whole images). Writes into `out` when given
 * (reuse one buffer across batches to avoid garbage), which must hold at least pixels.length floats.
 */
export function normaliseBatch(pixels: Uint8Array, transform: NormaliseTransform, out?: Float32Array): Float32Array {
  const n = pixels.length;
  const target = out ?? new Float32Array(n);
  if (target.length < n) throw new RangeError(`out holds ${target.length} floats, the batch needs ${n}`);
  const table = lookupTable(transform);
  const channels = transform.mean.length;
  if (channels === 1) {
    for (let i = 0; i < n; i++) target[i] = table[pixels[i]];
  } else {
    if (n % channels !== 0) throw new RangeError(`batch of ${n} bytes is not a whole number of ${channels}-channel pixels`);
    for (let i = 0; i < n; i += channels) {
      for (let c = 0; c < channels; c++) target[i + c] = table[c * 256 + pixels[i + c]];
    }
  }
  return target;
}

/**
 * Mean and standard deviation of pixel values, gathered in one streaming pass. Bytes take only 256 values, so a
 * float64 histogram per channel holds the exact statistics (counts are exact integers up to 2^53) and adding an
 * image costs one increment per byte.
 */
export class PixelStatistics {
  private readonly histogram: Float64Array;
  private images = 0;

  constructor(readonly channels: number) {
    this.histogram = new Float64Array(256 * channels);
  }

  /** Add one or more whole HWC images. */
  add(pixels: Uint8Array): void {
    const h = this.histogram;
    const channels = this.channels;
    if (channels === 1) {
      for (let i = 0; i < pixels.length; i++) h[pixels[i]]++;
    } else {
      for (let i = 0; i < pixels.length; i += channels) for (let c = 0; c < channels; c++) h[c * 256 + pixels[i + c]]++;
    }
    this.images++;
  }

  /** Images added so far (calls to add). */
  get count(): number {
    return this.images;
  }

  /**
   * Population mean and standard deviation of byte × scale, per channel or pooled over channels.
   * A zero deviation (constant pixels) is reported as 1 so that the transform stays finite.
   */
  result(perChannel: boolean, scale = 1 / 255): { mean: number[]; std: number[]; zeroStd: boolean } {
    const groups = perChannel ? this.channels : 1;
    const mean: number[] = [];
    const std: number[] = [];
    let zeroStd = false;
    for (let g = 0; g < groups; g++) {
      let n = 0;
      let sum = 0;
      const channelsInGroup = perChannel ? [g] : Array.from({ length: this.channels }, (_, c) => c);
      for (const c of channelsInGroup) {
        for (let v = 0; v < 256; v++) {
          const k = this.histogram[c * 256 + v];
          n += k;
          sum += k * v;
        }
      }
      if (n === 0) throw new PipeError('cannot compute pixel statistics of an empty set of images');
      const m = sum / n;
      let squares = 0;
      for (const c of channelsInGroup) {
        for (let v = 0; v < 256; v++) squares += this.histogram[c * 256 + v] * (v - m) * (v - m);
      }
      let s = Math.sqrt(squares / n) * scale;
      if (!(s > 1e-12)) {
        s = 1;
        zeroStd = true;
      }
      mean.push(m * scale);
      std.push(s);
    }
    return { mean, std, zeroStd };
  }
}
