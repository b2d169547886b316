// Near-duplicate images: the same photo re-encoded, shifted by a pixel or two, or made brighter or darker.
//
// Each image gets a 63-bit perceptual hash (the signs of its lowest 2-D DCT frequencies against their median, on
// a 32×32 grey version: brightness moves only the DC term, which is left out, and contrast scales every term
// alike, so neither changes the bits). Candidate pairs are those within `maxDistance` bits, found by
// (multi-index hashing: only images that agree exactly on some chunk of the hash are compared).
// A candidate is then confirmed on the pixels: the largest normalised correlation of the two images over shifts
// of up to `maxShift` pixels must reach `minCorrelation`. The hash finds; the pixels decide, so two different
// faces that happen to share most hash bits are not called copies.
import { eventLoopTurns } from '../event-loop.js';
import type { ImageDataset } from './image-dataset.js';

export interface NearDuplicateOptions {
  /** Largest Hamming distance between two hashes (of 63 bits) for the pair to be a candidate. */
  maxDistance: number;
  /** Smallest normalised correlation (−1…1) over the tried shifts for a candidate to count as a copy. */
  minCorrelation: number;
  /** Largest shift in pixels, either way on each axis, tried when comparing two images. */
  maxShift: number;
}

export const NEAR_DUPLICATE_DEFAULTS: NearDuplicateOptions = { maxDistance: 12, minCorrelation: 0.97, maxShift: 2 };

const SIDE = 32;
const LOW = 8;
/** Bits in a hash: the 8×8 low-frequency block less its DC term. */
const BITS = LOW * LOW - 1;

/** cos((2x + 1)uπ / 2N) for the 32-point DCT-II, row u. */
const COSINES = (() => {
  const table = new Float64Array(LOW * SIDE);
  for (let u = 0; u < LOW; u++) for (let x = 0; x < SIDE; x++) table[u * SIDE + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * SIDE));
  return table;
})();

/** The image as SIDE×SIDE grey values, each the area-weighted mean of the source pixels it covers. */
function greyResized(image: Uint8Array, h: number, w: number, c: number): Float64Array {
  const out = new Float64Array(SIDE * SIDE);
  const area = new Float64Array(SIDE * SIDE);
  const sy = SIDE / h;
  const sx = SIDE / w;
  for (let y = 0; y < h; y++) {
    const y0 = y * sy;
    const y1 = (y + 1) * sy;
    for (let x = 0; x < w; x++) {
      let v = 0;
      for (let k = 0; k < c; k++) v += image[(y * w + x) * c + k];
      v /= c;
      const x0 = x * sx;
      const x1 = (x + 1) * sx;
      // The target cells this source pixel overlaps, with the overlap's area as weight.
      for (let ty = Math.floor(y0); ty < Math.min(SIDE, Math.ceil(y1)); ty++) {
        const fy = Math.min(y1, ty + 1) - Math.max(y0, ty);
        if (fy <= 0) continue;
        for (let tx = Math.floor(x0); tx < Math.min(SIDE, Math.ceil(x1)); tx++) {
          const fx = Math.min(x1, tx + 1) - Math.max(x0, tx);
          if (fx <= 0) continue;
          out[ty * SIDE + tx] += v * fx * fy;
          area[ty * SIDE + tx] += fx * fy;
        }
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] = area[i] > 0 ? out[i] / area[i] : 0;
  return out;
}

/**
 * The perceptual hash of one [h, w, c] image as [high, low] 32-bit words (bit i set when DCT coefficient i of the
 * 8×8 low-frequency block, DC excluded, is above the block's median).
 */
export function perceptualHash(image: Uint8Array, h: number, w: number, c: number): [number, number] {
  const grey = greyResized(image, h, w, c);
  // Separable DCT: rows first (SIDE rows × LOW frequencies), then columns of that.
  const rows = new Float64Array(SIDE * LOW);
  for (let y = 0; y < SIDE; y++) {
    for (let u = 0; u < LOW; u++) {
      let s = 0;
      for (let x = 0; x < SIDE; x++) s += grey[y * SIDE + x] * COSINES[u * SIDE + x];
      rows[y * LOW + u] = s;
    }
  }
  const coefficients: number[] = [];
  for (let v = 0; v < LOW; v++) {
    for (let u = 0; u < LOW; u++) {
      if (u === 0 && v === 0) continue;
      let s = 0;
      for (let y = 0; y < SIDE; y++) s += rows[y * LOW + u] * COSINES[v * SIDE + y];
      coefficients.push(s);
    }
  }
  const median = [...coefficients].sort((a, b) => a - b)[coefficients.length >> 1];
  let high = 0;
  let low = 0;
  coefficients.forEach((value, i) => {
    if (value <= median) return;
    if (i < 32) low |= 1 << i;
    else high |= 1 << (i - 32);
  });
  return [high >>> 0, low >>> 0];
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Lets the event loop run now and then, and stops once the signal is aborted (see eventLoopTurns). */
type Checkpoint = () => Promise<void>;

/** Hashes of every row, as high words and low words. */
async function hashDataset(
  ds: Pick<ImageDataset, 'pixels' | 'shape' | 'labels'>,
  check: Checkpoint,
  onProgress?: (done: number) => void,
): Promise<{ high: Uint32Array; low: Uint32Array }> {
  const [h, w, c] = ds.shape;
  const size = h * w * c;
  const n = ds.labels.length;
  const high = new Uint32Array(n);
  const low = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    await check();
    [high[i], low[i]] = perceptualHash(ds.pixels.subarray(i * size, (i + 1) * size), h, w, c);
    if (onProgress && i % 2048 === 2047) onProgress(i + 1);
  }
  return { high, low };
}

/** Largest `maxDistance` accepted: beyond it the chunks of the index below become single bits and find everything. */
export const MAX_HASH_DISTANCE = 20;

/** Near-duplicate search as a stage's params say it (NEAR_DUPLICATES_PARAMS). */
export type NearDuplicatesParams = { enabled: boolean } & NearDuplicateOptions;

/** The `nearDuplicates` params of the stages that find copies (leakage-check, deduplicate): one meaning of a copy. */
export const NEAR_DUPLICATES_PARAMS = {
  type: 'object',
  description:
    'Near copies: a 63-bit DCT hash of each image proposes pairs within maxDistance bits; a pair counts when the ' +
    'images correlate at least minCorrelation at some shift of up to maxShift pixels (which ignores brightness and contrast).',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean', default: true, description: 'Look for near-duplicates too (exact ones are always found).' },
    maxDistance: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_HASH_DISTANCE,
      default: NEAR_DUPLICATE_DEFAULTS.maxDistance,
      description: 'Largest Hamming distance between two hashes for a candidate pair; larger finds more, slower.',
    },
    minCorrelation: {
      type: 'number',
      minimum: -1,
      maximum: 1,
      default: NEAR_DUPLICATE_DEFAULTS.minCorrelation,
      description:
        'Smallest pixel correlation for a candidate to count as a copy. On FER2013 sampled pairs at 0.9–0.97 were all copies and ' +
        'about half below 0.9 were look-alikes, but faces drawn from one template (synthetic-faces) reach 0.968 without being copies.',
    },
    maxShift: {
      type: 'integer',
      minimum: 0,
      maximum: 8,
      default: NEAR_DUPLICATE_DEFAULTS.maxShift,
      description: 'Largest shift in pixels tried on each axis when comparing two images (at most 1/8 of the image side is used).',
    },
  },
  default: {},
};

/**
 * Every pair of rows (i < j) whose hashes differ in at most `maxDistance` bits, by multi-index hashing: the 63 bits
 * are cut into maxDistance + 1 chunks, and two hashes within maxDistance bits agree exactly on at least one chunk
 * (pigeonhole), so only rows sharing a chunk value are compared. A pair is counted at the first chunk they share.
 */
async function hashCandidates(hashes: { high: Uint32Array; low: Uint32Array }, maxDistance: number, check: Checkpoint): Promise<Array<[number, number]>> {
  const { high, low } = hashes;
  const n = high.length;
  const chunks = Math.min(BITS, Math.max(1, Math.floor(maxDistance) + 1));
  const bit = (row: number, b: number) => (b < 32 ? (low[row] >>> b) & 1 : (high[row] >>> (b - 32)) & 1);
  // keys[row * chunks + k]: the value of chunk k of the row's hash.
  const keys = new Uint32Array(n * chunks);
  const bounds = Array.from({ length: chunks + 1 }, (_, k) => Math.round((k * BITS) / chunks));
  for (let row = 0; row < n; row++) {
    await check();
    for (let k = 0; k < chunks; k++) {
      let key = 0;
      for (let b = bounds[k]; b < bounds[k + 1]; b++) key = (key << 1) | bit(row, b);
      keys[row * chunks + k] = key;
    }
  }
  const pairs: Array<[number, number]> = [];
  for (let k = 0; k < chunks; k++) {
    const buckets = new Map<number, number[]>();
    for (let row = 0; row < n; row++) {
      const key = keys[row * chunks + k];
      const bucket = buckets.get(key);
      if (bucket) bucket.push(row);
      else buckets.set(key, [row]);
    }
    for (const bucket of buckets.values()) {
      for (let a = 0; a < bucket.length; a++) {
        await check();
        const i = bucket[a];
        for (let b = a + 1; b < bucket.length; b++) {
          const j = bucket[b];
          let seen = false;
          for (let e = 0; e < k && !seen; e++) seen = keys[i * chunks + e] === keys[j * chunks + e];
          if (seen) continue;
          if (popcount(high[i] ^ high[j]) + popcount(low[i] ^ low[j]) <= maxDistance) pairs.push([i, j]);
        }
      }
    }
  }
  return pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
}

/** Pearson correlation of image a with image b moved by (dy, dx), over the pixels where they overlap. */
function correlationAt(a: Uint8Array, b: Uint8Array, h: number, w: number, c: number, dy: number, dx: number): number {
  const rowLength = w * c;
  let n = 0;
  let sa = 0;
  let sb = 0;
  let saa = 0;
  let sbb = 0;
  let sab = 0;
  for (let y = Math.max(0, -dy); y < Math.min(h, h - dy); y++) {
    const rowA = y * rowLength;
    const rowB = (y + dy) * rowLength + dx * c;
    for (let x = Math.max(0, -dx) * c; x < Math.min(w, w - dx) * c; x++) {
      const va = a[rowA + x];
      const vb = b[rowB + x];
      sa += va;
      sb += vb;
      saa += va * va;
      sbb += vb * vb;
      sab += va * vb;
      n++;
    }
  }
  const varA = saa - (sa * sa) / n;
  const varB = sbb - (sb * sb) / n;
  // A constant image has no defined correlation: two count as equal, a constant and a varying one as unrelated.
  if (varA <= 1e-9 || varB <= 1e-9) return varA <= 1e-9 && varB <= 1e-9 ? 1 : 0;
  return (sab - (sa * sb) / n) / Math.sqrt(varA * varB);
}

/**
 * The largest correlation between image a and image b moved by (dy, dx) for shifts within `radius` of
 * (centerY, centerX) and within `maxShift` of none, with the shift that gives it. Correlation ignores
 * brightness and contrast; the shift search absorbs small translations.
 */
export function bestShiftedCorrelation(
  a: Uint8Array,
  b: Uint8Array,
  h: number,
  w: number,
  c: number,
  maxShift: number,
  center: [number, number] = [0, 0],
  radius = maxShift,
): { correlation: number; shift: [number, number] } {
  // Shifts stay small beside the image, so the overlap keeps most of both images.
  const limit = Math.min(maxShift, Math.floor(Math.min(h, w) / 8));
  let best = { correlation: -1, shift: [0, 0] as [number, number] };
  for (let dy = Math.max(-limit, center[0] - radius); dy <= Math.min(limit, center[0] + radius); dy++) {
    for (let dx = Math.max(-limit, center[1] - radius); dx <= Math.min(limit, center[1] + radius); dx++) {
      const r = correlationAt(a, b, h, w, c, dy, dx);
      if (r > best.correlation) best = { correlation: r, shift: [dy, dx] };
    }
  }
  return best;
}

/** The largest correlation over every shift of up to `maxShift` pixels (see bestShiftedCorrelation). */
export function shiftedCorrelation(a: Uint8Array, b: Uint8Array, h: number, w: number, c: number, maxShift: number): number {
  return bestShiftedCorrelation(a, b, h, w, c, maxShift).correlation;
}

export interface NearDuplicateResult {
  /** Groups of row indices (ascending), each of two rows or more, ordered by first row: connected confirmed pairs. */
  groups: number[][];
  /** Confirmed pairs (i < j). */
  pairs: Array<[number, number]>;
  /** Pairs the hash proposed, before the pixel check. */
  candidatePairs: number;
}

/** The coarse check may be this much below minCorrelation and still send a pair to the full check. */
const COARSE_MARGIN = 0.1;

/** Each image at half size (2×2 means, channels averaged), for a cheap first look at a candidate pair. */
function halfSize(ds: Pick<ImageDataset, 'pixels' | 'shape' | 'labels'>, rows: Iterable<number>): Map<number, Uint8Array> {
  const [h, w, c] = ds.shape;
  const [hh, hw] = [h >> 1, w >> 1];
  const out = new Map<number, Uint8Array>();
  for (const row of rows) {
    if (out.has(row)) continue;
    const image = ds.pixels.subarray(row * h * w * c, (row + 1) * h * w * c);
    const small = new Uint8Array(hh * hw);
    for (let y = 0; y < hh; y++) {
      for (let x = 0; x < hw; x++) {
        let sum = 0;
        for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) for (let k = 0; k < c; k++) sum += image[((2 * y + dy) * w + 2 * x + dx) * c + k];
        small[y * hw + x] = Math.round(sum / (4 * c));
      }
    }
    out.set(row, small);
  }
  return out;
}

/**
 * Near-duplicate groups of a dataset (exact copies included: they are at distance 0 and correlation 1). Stops
 * between images or pairs once `signal` is aborted: on a large dataset the search takes minutes.
 */
export async function findNearDuplicateGroups(
  ds: Pick<ImageDataset, 'pixels' | 'shape' | 'labels'>,
  options: NearDuplicateOptions,
  onProgress?: (message: string) => void,
  signal?: AbortSignal,
): Promise<NearDuplicateResult> {
  const [h, w, c] = ds.shape;
  const size = h * w * c;
  const n = ds.labels.length;
  const turn = eventLoopTurns();
  const check: Checkpoint = async () => {
    await turn();
    signal?.throwIfAborted();
  };
  const hashes = await hashDataset(ds, check, (done) => onProgress?.(`hashing ${done}/${n} images`));
  onProgress?.('searching for candidate pairs');
  const candidates = await hashCandidates(hashes, options.maxDistance, check);
  const image = (i: number) => ds.pixels.subarray(i * size, (i + 1) * size);
  // Coarse to fine: half-size images correlate at least as well as full-size ones in practice (averaging removes
  // re-encoding noise), so a pair far below the threshold at half size is dropped, and the full-size search only
  // tries the shifts next to the best half-size one (9 instead of 25 at maxShift 2).
  const coarse = h >= 16 && w >= 16 ? halfSize(ds, candidates.flat()) : null;
  const coarseShift = Math.ceil(options.maxShift / 2);
  const confirmed: Array<[number, number]> = [];
  for (const [k, [i, j]] of candidates.entries()) {
    await check();
    let r: number;
    if (coarse) {
      const first = bestShiftedCorrelation(coarse.get(i)!, coarse.get(j)!, h >> 1, w >> 1, 1, coarseShift);
      r =
        first.correlation < options.minCorrelation - COARSE_MARGIN
          ? -1
          : bestShiftedCorrelation(image(i), image(j), h, w, c, options.maxShift, [2 * first.shift[0], 2 * first.shift[1]], 1).correlation;
    } else {
      r = shiftedCorrelation(image(i), image(j), h, w, c, options.maxShift);
    }
    if (r >= options.minCorrelation) confirmed.push([i, j]);
    if (onProgress && k % 4096 === 4095) onProgress(`checking candidate pairs ${k + 1}/${candidates.length}`);
  }
  // Union-find over the confirmed pairs.
  const parent = Int32Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => {
    while (parent[x] !== x) x = parent[x] = parent[parent[x]];
    return x;
  };
  for (const [i, j] of confirmed) {
    const a = find(i);
    const b = find(j);
    if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
  }
  const byRoot = new Map<number, number[]>();
  for (const [i, j] of confirmed) {
    for (const r of [i, j]) {
      const root = find(r);
      const list = byRoot.get(root);
      if (list) list.push(r);
      else byRoot.set(root, [r]);
    }
  }
  const groups = [...byRoot.values()].map((g) => [...new Set(g)].sort((a, b) => a - b)).sort((a, b) => a[0] - b[0]);
  return { groups, pairs: confirmed, candidatePairs: candidates.length };
}
