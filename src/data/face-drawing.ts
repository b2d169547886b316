// Draws one grey cartoon face into a small square image, in plain JavaScript (no canvas dependency).
//
// Shapes are described in "face units" (the face is an ellipse of half-width 1, centred on the origin, v pointing
// down) by signed distance functions; a pose (centre, scale, rotation) maps face units to pixels. Each pixel samples
// every shape once at its centre and covers it by clamp(0.5 − distance in pixels): cheap anti-aliasing that keeps
// 48×48 features smooth.

/** Geometry and tones of one face; what an expression changes is in the first block. */
export interface FaceParams {
  // Expression.
  /** Vertical lift of the mouth corners relative to its centre (face units; > 0 smile, < 0 frown). */
  mouthCurve: number;
  /** Difference in lift between the right and left corner (face units), for lopsided expressions. */
  mouthSkew: number;
  /** Half-width of the mouth. */
  mouthWidth: number;
  /** Opening above / below the lip line at the centre (0: closed). */
  mouthOpenUp: number;
  mouthOpenDown: number;
  /** 0..1: share of the opening's height filled by a band of teeth along its top. */
  teeth: number;
  /** Eyebrow height above the default position (face units; > 0 raised). */
  browRaise: number;
  /** Inner-end drop of the eyebrows (face units; > 0 inner ends lower, the frown of anger). */
  browTilt: number;
  /** Upward bow of the eyebrows (face units). */
  browArch: number;
  /** Eye opening as a multiple of a relaxed eye (≈0.3 squint … 1.5 wide). */
  eyeOpen: number;
  /** 0..1 strength of wrinkles on the nose bridge. */
  noseWrinkle: number;

  // Identity and pose.
  /** Face centre in pixels. */
  cx: number;
  cy: number;
  /** Pixels per face unit (face half-width in pixels). */
  scale: number;
  /** Face height / width. */
  aspect: number;
  /** Rotation in radians. */
  angle: number;
  eyeSpacing: number;
  eyeHeight: number;
  mouthHeight: number;
  /** Grey levels 0..255. */
  skin: number;
  background: number;
  hair: number;
  /** 0: bald; otherwise how far the hair comes down over the forehead (face units). */
  hairline: number;

  // Lighting and sensor.
  contrast: number;
  brightness: number;
  /** Linear light gradient across the image: amplitude in grey levels and direction in radians. */
  gradient: number;
  gradientAngle: number;
  /** Standard deviation of Gaussian pixel noise, grey levels. */
  noise: number;
}

type Sdf = (u: number, v: number) => number;

/** Float canvas in pixel space that paints shapes given in face units. */
class FaceCanvas {
  readonly values: Float32Array;
  private readonly cos: number;
  private readonly sin: number;

  constructor(
    readonly size: number,
    private readonly p: FaceParams,
  ) {
    this.values = new Float32Array(size * size);
    this.cos = Math.cos(p.angle);
    this.sin = Math.sin(p.angle);
  }

  /**
   * Blend `tone` over pixels inside `sdf` (negative inside, in face units), looking only at pixels whose face
   * coordinates can fall in the box [u0,u1]×[v0,v1]. `opacity` < 1 gives soft shading.
   */
  paint(sdf: Sdf, box: [number, number, number, number], tone: number, opacity = 1): void {
    const { size, p, cos, sin } = this;
    const [u0, u1, v0, v1] = box;
    // Pixel bounding box of the rotated face-space box.
    let xMin = Infinity;
    let xMax = -Infinity;
    let yMin = Infinity;
    let yMax = -Infinity;
    for (const u of [u0, u1]) {
      for (const v of [v0, v1]) {
        const x = p.cx + p.scale * (cos * u - sin * v);
        const y = p.cy + p.scale * (sin * u + cos * v);
        xMin = Math.min(xMin, x);
        xMax = Math.max(xMax, x);
        yMin = Math.min(yMin, y);
        yMax = Math.max(yMax, y);
      }
    }
    const x0 = Math.max(0, Math.floor(xMin - 1));
    const x1 = Math.min(size - 1, Math.ceil(xMax + 1));
    const y0 = Math.max(0, Math.floor(yMin - 1));
    const y1 = Math.min(size - 1, Math.ceil(yMax + 1));
    const inv = 1 / p.scale;
    for (let y = y0; y <= y1; y++) {
      const dy = y + 0.5 - p.cy;
      for (let x = x0; x <= x1; x++) {
        const dx = x + 0.5 - p.cx;
        // Inverse rotation into face units.
        const u = (cos * dx + sin * dy) * inv;
        const v = (-sin * dx + cos * dy) * inv;
        const coverage = 0.5 - sdf(u, v) * p.scale;
        if (coverage <= 0) continue;
        const a = (coverage >= 1 ? 1 : coverage) * opacity;
        const i = y * size + x;
        this.values[i] += (tone - this.values[i]) * a;
      }
    }
  }
}

/** Approximate signed distance to an axis-aligned ellipse (exact on the axes, good enough for small features). */
function ellipse(cx: number, cy: number, rx: number, ry: number): Sdf {
  const r = Math.min(rx, ry);
  return (u, v) => {
    const x = (u - cx) / rx;
    const y = (v - cy) / ry;
    return (Math.sqrt(x * x + y * y) - 1) * r;
  };
}

/**
 * A stroke of half-thickness `half` along the curve v = f(u) for u in [ua, ub]; distance measured vertically and
 * corrected by the slope, with round-ish ends.
 */
function curveStroke(f: (u: number) => number, slope: (u: number) => number, ua: number, ub: number, half: number): Sdf {
  return (u, v) => {
    const uc = u < ua ? ua : u > ub ? ub : u;
    const across = Math.abs(v - f(uc)) / Math.sqrt(1 + slope(uc) ** 2);
    const along = Math.abs(u - uc);
    return Math.sqrt(across * across + along * along) - half;
  };
}

/** The region between v = top(u) and v = bottom(u) for |u − c| < w (distances taken vertically/horizontally). */
function between(top: (u: number) => number, bottom: (u: number) => number, c: number, w: number): Sdf {
  return (u, v) => Math.max(Math.abs(u - c) - w, top(u) - v, v - bottom(u));
}

/** Render `p` into a size×size grey image. `noise()` returns standard normal samples for the sensor noise. */
export function drawFace(p: FaceParams, size: number, noise: () => number): Uint8Array {
  const canvas = new FaceCanvas(size, p);
  canvas.values.fill(p.background);
  const faceRy = p.aspect;
  const dark = Math.max(0, p.skin - 150);
  const shadow = p.skin * 0.72;

  // Neck and shoulders below the face, then hair behind it.
  canvas.paint(between(() => faceRy * 0.6, () => 9, 0, 0.55), [-0.6, 0.6, 0.5, 4], p.skin * 0.85);
  canvas.paint(ellipse(0, faceRy + 1.7, 2.2, 1.1), [-2.3, 2.3, faceRy + 0.5, faceRy + 3], p.hair * 0.7 + p.background * 0.3);
  if (p.hairline > 0) canvas.paint(ellipse(0, -0.25, 1.14, faceRy * 0.95), [-1.2, 1.2, -1.5, 1], p.hair);
  // Face, with the hair coming down over the forehead.
  canvas.paint(ellipse(0, 0, 1, faceRy), [-1, 1, -faceRy, faceRy], p.skin);
  if (p.hairline > 0) {
    const top = -faceRy;
    const line = -faceRy + p.hairline;
    // Slightly wider than the face so the fringe also covers the face's anti-aliased edge (no light seam).
    const face = ellipse(0, 0, 1.06, faceRy * 1.04);
    const fringe = between(() => top - 0.1, (u) => line + 0.25 * u * u, 0, 1);
    canvas.paint((u, v) => Math.max(face(u, v), fringe(u, v)), [-1.1, 1.1, top - 0.1, line + 0.3], p.hair);
  }
  // Ears.
  for (const side of [-1, 1]) canvas.paint(ellipse(side * 0.98, p.eyeHeight + 0.12, 0.13, 0.24), [side - 0.2, side + 0.2, -0.3, 0.5], p.skin * 0.92);

  // Eyes: sockets in shadow, white, iris, then the upper lid line.
  const eyeRx = 0.17;
  const eyeRy = Math.max(0.025, 0.1 * p.eyeOpen);
  for (const side of [-1, 1]) {
    const ex = side * p.eyeSpacing;
    const ey = p.eyeHeight;
    canvas.paint(ellipse(ex, ey - 0.02, eyeRx * 1.5, 0.16 + eyeRy * 0.5), [ex - 0.3, ex + 0.3, ey - 0.3, ey + 0.2], shadow, 0.35);
    canvas.paint(ellipse(ex, ey, eyeRx, eyeRy), [ex - eyeRx, ex + eyeRx, ey - eyeRy, ey + eyeRy], Math.min(255, p.skin + 50));
    const irisR = Math.min(0.085, eyeRy * 1.05);
    canvas.paint(ellipse(ex, ey, irisR, Math.min(irisR, eyeRy)), [ex - irisR, ex + irisR, ey - irisR, ey + irisR], dark + 20);
    const lid = (u: number) => ey - eyeRy * Math.sqrt(Math.max(0, 1 - ((u - ex) / eyeRx) ** 2));
    const lidSlope = (u: number) => {
      const t = (u - ex) / eyeRx;
      return t * t < 0.98 ? (eyeRy * t) / (eyeRx * Math.sqrt(1 - t * t)) : 0;
    };
    canvas.paint(curveStroke(lid, lidSlope, ex - eyeRx, ex + eyeRx, 0.025), [ex - 0.25, ex + 0.25, ey - 0.25, ey + 0.1], dark);
  }

  // Eyebrows: inner end near the nose, outer end above the eye's outer corner.
  const browBase = p.eyeHeight - 0.27 - p.browRaise;
  for (const side of [-1, 1]) {
    const inner = side * 0.12;
    const outer = side * (p.eyeSpacing + 0.24);
    const ua = Math.min(inner, outer);
    const ub = Math.max(inner, outer);
    // t = 0 at the inner end, 1 at the outer end.
    const t = (u: number) => (u - inner) / (outer - inner);
    const f = (u: number) => browBase + p.browTilt * (1 - t(u)) - p.browArch * 4 * t(u) * (1 - t(u));
    const slope = (u: number) => (-p.browTilt - p.browArch * 4 * (1 - 2 * t(u))) / (outer - inner);
    canvas.paint(curveStroke(f, slope, ua, ub, 0.045), [ua - 0.1, ub + 0.1, browBase - 0.4, browBase + 0.4], p.hair * 0.6 + dark * 0.4);
  }

  // Nose: a shadow along one side and the nostrils; wrinkles across the bridge for disgust.
  canvas.paint(ellipse(0.06, p.eyeHeight + 0.25, 0.05, 0.18), [-0.05, 0.15, p.eyeHeight, p.eyeHeight + 0.5], shadow, 0.3);
  canvas.paint(curveStroke(() => p.eyeHeight + 0.42, () => 0, -0.09, 0.09, 0.035), [-0.2, 0.2, p.eyeHeight + 0.3, p.eyeHeight + 0.55], shadow, 0.7);
  if (p.noseWrinkle > 0) {
    for (const dv of [0.0, 0.09]) {
      const v0 = p.eyeHeight + 0.02 + dv;
      canvas.paint(curveStroke((u) => v0 + 0.6 * u * u, (u) => 1.2 * u, -0.1, 0.1, 0.018), [-0.2, 0.2, v0 - 0.1, v0 + 0.1], shadow * 0.85, p.noseWrinkle);
    }
  }

  // Mouth: lip line v = line(u); an opening between the upper and lower edges, teeth along the top of it.
  const my = p.mouthHeight;
  const mw = p.mouthWidth;
  const line = (u: number) => my - p.mouthCurve * (u / mw) ** 2 - p.mouthSkew * (u / mw);
  const lineSlope = (u: number) => (-2 * p.mouthCurve * u) / (mw * mw) - p.mouthSkew / mw;
  const bulge = (u: number) => Math.sqrt(Math.max(0, 1 - (u / mw) ** 2));
  const box: [number, number, number, number] = [-mw - 0.1, mw + 0.1, my - Math.abs(p.mouthCurve) - Math.abs(p.mouthSkew) - p.mouthOpenUp - 0.2, my + Math.abs(p.mouthCurve) + Math.abs(p.mouthSkew) + p.mouthOpenDown + 0.2];
  const lipTone = p.skin * 0.62;
  if (p.mouthOpenUp + p.mouthOpenDown > 0.03) {
    const top = (u: number) => line(u) - p.mouthOpenUp * bulge(u);
    const bottom = (u: number) => line(u) + p.mouthOpenDown * bulge(u);
    canvas.paint(between((u) => top(u) - 0.04, (u) => bottom(u) + 0.05, 0, mw + 0.03), box, lipTone);
    canvas.paint(between(top, bottom, 0, mw), box, dark * 0.5 + 15);
    if (p.teeth > 0) {
      const teethBottom = (u: number) => top(u) + (bottom(u) - top(u)) * p.teeth;
      canvas.paint(between(top, teethBottom, 0, mw * 0.85), box, Math.min(255, p.skin + 40));
    }
  } else {
    canvas.paint(curveStroke(line, lineSlope, -mw, mw, 0.04), box, lipTone * 0.8);
  }

  // Light, contrast, noise; round into bytes.
  const out = new Uint8Array(size * size);
  const gx = Math.cos(p.gradientAngle) / size;
  const gy = Math.sin(p.gradientAngle) / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = y * size + x;
      const ramp = ((x - size / 2) * gx + (y - size / 2) * gy) * p.gradient;
      const value = (canvas.values[i] - 128) * p.contrast + 128 + p.brightness + ramp + noise() * p.noise;
      out[i] = value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
    }
  }
  return out;
}
