// Faster wasm kernels for the reductions and tiling that batch-norm training hammers.
//
// The stock wasm Sum/Mean transpose the reduced axes to the inside before reducing, and Tile runs an
// index-per-element loop; on NHWC activations reduced over [N,H,W] (batch-norm statistics, bias and
// scale gradients) that is most of a training step. Reducing leading axes is a column sum over a
// [rows, cols] matrix, and tiling is block copies, both cheap straight on the wasm heap. Anything
// outside those fast paths goes to the stock kernel unchanged. MaxPoolGrad gets the same treatment.
import type { KernelFunc, TensorInfo, Tf, WasmBackend } from '../types.js';
import { simdKernels } from './simd.js';

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Sorted, non-negative reduction axes. */
function normaliseAxes(axis: unknown, rank: number): number[] {
  const list = axis == null ? [...Array(rank).keys()] : Array.isArray(axis) ? (axis as number[]) : [axis as number];
  return [...new Set(list.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

/** True when axes are exactly [0, 1, ..., k-1] for some k ≥ 1. */
function isLeadingPrefix(axes: number[]): boolean {
  return axes.length > 0 && axes.every((a, i) => a === i);
}

/**
 * Column sums of x viewed as [rows, cols], reducing its leading `k` axes; scaled by `scale`.
 * Accumulates in float64 so long reductions stay accurate.
 */
function reduceLeading(backend: WasmBackend, x: TensorInfo, k: number, keepDims: boolean, scale: (rows: number) => number): TensorInfo {
  const rows = size(x.shape.slice(0, k));
  const cols = size(x.shape.slice(k));
  const outShape = keepDims ? x.shape.map((d, i) => (i < k ? 1 : d)) : x.shape.slice(k);
  const out = backend.makeOutput(outShape, 'float32');
  const simd = cols % 4 === 0 && rows > 0 ? simdKernels(backend) : null;
  if (simd) {
    const sums = simd.colSum({ ...x, shape: [rows, cols] });
    const f = scale(rows);
    (backend.typedArrayFromHeap(out) as Float32Array).set(Float32Array.from(sums, (v) => v * f));
    return out;
  }
  // Views after the allocation: makeOutput may grow (and so detach) the heap.
  const src = backend.typedArrayFromHeap(x) as Float32Array;
  const dst = backend.typedArrayFromHeap(out) as Float32Array;
  const acc = new Float64Array(cols);
  // Four rows per pass: fewer accumulator round trips, about twice as fast in V8.
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const b0 = r * cols;
    const b1 = b0 + cols;
    const b2 = b1 + cols;
    const b3 = b2 + cols;
    for (let c = 0; c < cols; c++) acc[c] += src[b0 + c] + src[b1 + c] + (src[b2 + c] + src[b3 + c]);
  }
  for (; r < rows; r++) {
    const b = r * cols;
    for (let c = 0; c < cols; c++) acc[c] += src[b + c];
  }
  const f = scale(rows);
  for (let c = 0; c < cols; c++) dst[c] = acc[c] * f;
  return out;
}

export function fastSum(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    const axes = normaliseAxes(args.attrs.axis, x.shape.length);
    if (x.dtype !== 'float32' || !isLeadingPrefix(axes) || axes.length === x.shape.length || size(x.shape) === 0) return stock(args);
    return reduceLeading(args.backend, x, axes.length, Boolean(args.attrs.keepDims), () => 1);
  };
}

export function fastMean(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    const axes = normaliseAxes(args.attrs.axis, x.shape.length);
    if (x.dtype !== 'float32' || !isLeadingPrefix(axes) || axes.length === x.shape.length || size(x.shape) === 0) return stock(args);
    return reduceLeading(args.backend, x, axes.length, Boolean(args.attrs.keepDims), (rows) => 1 / rows);
  };
}

/** Tile by block copies: repeat along one axis at a time, innermost first. */
export function fastTile(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    const reps = args.attrs.reps as number[];
    if (x.dtype === 'string' || reps.length !== x.shape.length || size(x.shape) === 0) return stock(args);
    const outShape = x.shape.map((d, i) => d * reps[i]);
    const out = args.backend.makeOutput(outShape, x.dtype);
    const src = args.backend.typedArrayFromHeap(x);
    const dst = args.backend.typedArrayFromHeap(out);
    // `cur` holds the tensor tiled along axes > a, with shape cur_shape; grow one axis at a time.
    let cur: Float32Array | Int32Array | Uint8Array = src;
    const curShape = x.shape.slice();
    for (let a = x.shape.length - 1; a >= 0; a--) {
      const r = reps[a];
      if (r === 1) continue;
      const outer = size(curShape.slice(0, a));
      const inner = size(curShape.slice(a));
      const isLast = reps.slice(0, a).every((v) => v === 1);
      const next = isLast ? dst : new (cur.constructor as Float32ArrayConstructor)(outer * inner * r);
      for (let o = 0; o < outer; o++) {
        const block = cur.subarray(o * inner, (o + 1) * inner);
        for (let k = 0; k < r; k++) next.set(block as Float32Array, (o * r + k) * inner);
      }
      cur = next;
      curShape[a] *= r;
    }
    if (cur !== dst) dst.set(cur as Float32Array); // all reps were 1: a plain copy
    return out;
  };
}

/**
 * MaxPoolGrad routing each dy to the first maximum of its window (scanning rows then columns, padding
 * skipped), as the reference cpu backend does; the stock wasm kernel is slower and breaks ties
 * differently. Dilated pooling goes to the stock kernel.
 */
export function fastMaxPoolGrad(tf: Tf): (stock: KernelFunc) => KernelFunc {
  return (stock) => (args) => {
    const { dy, input } = args.inputs;
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs as {
      filterSize: number | [number, number];
      strides: number | [number, number];
      pad: 'valid' | 'same' | number;
      dimRoundingMode?: 'floor' | 'round' | 'ceil';
    };
    const info = tf.backend_util.computePool2DInfo(input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
    if (input.dtype !== 'float32' || info.dilationHeight !== 1 || info.dilationWidth !== 1) return stock(args);
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const { batchSize: nb, inHeight: inH, inWidth: inW, inChannels: ch, outHeight: outH, outWidth: outW } = info;
    const out = args.backend.makeOutput(input.shape, 'float32');
    const dx = args.backend.typedArrayFromHeap(out) as Float32Array;
    dx.fill(0);
    const simd = ch % 4 === 0 ? simdKernels(args.backend) : null;
    if (simd) {
      const geometry = { batch: nb, inH, inW, ch, outH, outW, fh, fw, sh, sw, top, left };
      simd.maxPoolGrad(input, dy, out, geometry);
      return out;
    }
    const x = args.backend.typedArrayFromHeap(input) as Float32Array;
    const g = args.backend.typedArrayFromHeap(dy) as Float32Array;
    const best = new Float32Array(ch);
    const bestAt = new Int32Array(ch);
    for (let b = 0; b < nb; b++) {
      for (let oy = 0; oy < outH; oy++) {
        for (let ox = 0; ox < outW; ox++) {
          best.fill(-Infinity);
          bestAt.fill(-1);
          for (let ky = 0; ky < fh; ky++) {
            const iy = oy * sh - top + ky;
            if (iy < 0 || iy >= inH) continue;
            for (let kx = 0; kx < fw; kx++) {
              const ix = ox * sw - left + kx;
              if (ix < 0 || ix >= inW) continue;
              const base = ((b * inH + iy) * inW + ix) * ch;
              for (let c = 0; c < ch; c++) {
                const v = x[base + c];
                if (v > best[c]) {
                  best[c] = v;
                  bestAt[c] = base + c;
                }
              }
            }
          }
          const gBase = ((b * outH + oy) * outW + ox) * ch;
          for (let c = 0; c < ch; c++) if (bestAt[c] >= 0) dx[bestAt[c]] += g[gBase + c];
        }
      }
    }
    return out;
  };
}
