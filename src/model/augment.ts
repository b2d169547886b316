// On-the-fly image augmentation on normalised float HWC images: one random affine map per image (horizontal
// flip, shift, rotation, zoom), sampled bilinearly, with edge pixels repeated outside the image (Keras's
// fill_mode 'nearest'), then optionally one erased rectangle (Zhong et al.'s random erasing, torchvision's
// defaults). Pure JavaScript: it runs on the batch before it becomes a tensor.
import type { Random } from '../data/random.js';

export interface AugmentSpec {
  /** Mirror left-right with probability 1/2. */
  flipHorizontal?: boolean;
  /** Largest shift as a fraction of width/height, e.g. 0.1. */
  shift?: number;
  /** Largest rotation in degrees, either way. */
  rotation?: number;
  /** Largest zoom change as a fraction: scale drawn from [1 − zoom, 1 + zoom]. */
  zoom?: number;
  /**
   * Probability of erasing one random rectangle (2–33% of the image, aspect ratio 0.3–3.3) to 0, which is the
   * dataset mean once images are standardised. It hides a part of the face, so the model cannot lean on one.
   */
  erase?: number;
}

/** Random erasing's area and aspect ranges (torchvision's RandomErasing defaults). */
const ERASE_AREA = [0.02, 0.33] as const;
const ERASE_LOG_ASPECT = [Math.log(0.3), Math.log(1 / 0.3)] as const;

export function augmentEnabled(spec: AugmentSpec | undefined): boolean {
  return !!spec && (!!spec.flipHorizontal || (spec.shift ?? 0) > 0 || (spec.rotation ?? 0) > 0 || (spec.zoom ?? 0) > 0 || (spec.erase ?? 0) > 0);
}

/**
 * Write a randomly transformed copy of `src` (one [h, w, c] image) into `dst`. The random draws happen in a fixed
 * order whatever the spec, so that turning one option on does not change the draws of the others. Erasing draws
 * only when it is asked for, after the others, so that pipelines without it keep the draws they had before it.
 */
export function augmentImage(
  src: Float32Array,
  dst: Float32Array,
  h: number,
  w: number,
  c: number,
  spec: AugmentSpec,
  rng: Random,
): void {
  const flip = rng.next() < 0.5 && !!spec.flipHorizontal;
  const angle = (rng.uniform(-1, 1) * (spec.rotation ?? 0) * Math.PI) / 180;
  const scale = 1 + rng.uniform(-1, 1) * (spec.zoom ?? 0);
  const dx = rng.uniform(-1, 1) * (spec.shift ?? 0) * w;
  const dy = rng.uniform(-1, 1) * (spec.shift ?? 0) * h;
  // Inverse map: for each output pixel find where it came from in the source.
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const ox = x - cx - dx;
      const oy = y - cy - dy;
      let sx = cos * ox + sin * oy + cx;
      const sy = -sin * ox + cos * oy + cy;
      if (flip) sx = w - 1 - sx;
      const fx = Math.min(Math.max(sx, 0), w - 1);
      const fy = Math.min(Math.max(sy, 0), h - 1);
      const x0 = Math.floor(fx);
      const y0 = Math.floor(fy);
      const x1 = Math.min(x0 + 1, w - 1);
      const y1 = Math.min(y0 + 1, h - 1);
      const ax = fx - x0;
      const ay = fy - y0;
      const out = (y * w + x) * c;
      for (let k = 0; k < c; k++) {
        const p00 = src[(y0 * w + x0) * c + k];
        const p01 = src[(y0 * w + x1) * c + k];
        const p10 = src[(y1 * w + x0) * c + k];
        const p11 = src[(y1 * w + x1) * c + k];
        dst[out + k] = (p00 * (1 - ax) + p01 * ax) * (1 - ay) + (p10 * (1 - ax) + p11 * ax) * ay;
      }
    }
  }
  if ((spec.erase ?? 0) > 0 && rng.next() < spec.erase!) eraseRectangle(dst, h, w, c, rng);
}

/** Set one random rectangle of `image` to 0; up to ten draws find one that fits, as torchvision does. */
function eraseRectangle(image: Float32Array, h: number, w: number, c: number, rng: Random): void {
  for (let attempt = 0; attempt < 10; attempt++) {
    const area = h * w * rng.uniform(ERASE_AREA[0], ERASE_AREA[1]);
    const aspect = Math.exp(rng.uniform(ERASE_LOG_ASPECT[0], ERASE_LOG_ASPECT[1]));
    const eh = Math.round(Math.sqrt(area * aspect));
    const ew = Math.round(Math.sqrt(area / aspect));
    if (eh < 1 || ew < 1 || eh > h || ew > w) continue;
    const top = rng.int(h - eh + 1);
    const left = rng.int(w - ew + 1);
    for (let y = top; y < top + eh; y++) image.fill(0, (y * w + left) * c, (y * w + left + ew) * c);
    return;
  }
}
