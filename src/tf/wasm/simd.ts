// The SIMD kernels of wasm/simd-kernels.wat, instantiated on the wasm backend's own memory so they read and
// write tensors in place: about eight times faster than the same loops in JavaScript. Callers use them
// when the channel count is a multiple of 4 and keep a JavaScript loop for the rest.
import { readFileSync } from 'node:fs';
import type { TensorInfo, WasmBackend } from '../types.js';

interface Exports {
  affine2(a: number, b: number, out: number, coef: number, rows: number, ch: number): void;
  scale_shift(x: number, out: number, coef: number, rows: number, ch: number): void;
  col_sum(x: number, rows: number, ch: number, acc: number): void;
  col_sum_dot_centered(a: number, b: number, mean: number, rows: number, ch: number, acc: number): void;
  col_sq_centered(x: number, mean: number, rows: number, ch: number, acc: number): void;
  maxpool_grad(x: number, dy: number, dx: number, geom: number): void;
  relu(x: number, out: number, n: number): void;
  relu_grad(dy: number, x: number, out: number, n: number): void;
  adam(w: number, m: number, v: number, g: number, ow: number, om: number, ov: number, n: number, ...constants: number[]): void;
}

type EmscriptenModule = { asm?: { memory?: WebAssembly.Memory }; _malloc(bytes: number): number; _free(ptr: number): void; HEAPF32: Float32Array; HEAP32: Int32Array };

export interface SimdKernels {
  /** out = p·a + q·b + s per channel (a, b, out: [rows, ch]). */
  affine2(a: TensorInfo, b: TensorInfo, out: TensorInfo, p: Float32Array, q: Float32Array, s: Float32Array): void;
  /** out = k·x + s per channel. */
  scaleShift(x: TensorInfo, out: TensorInfo, k: Float32Array, s: Float32Array): void;
  /** Σ over rows per channel, in float64 across blocks. */
  colSum(x: TensorInfo): Float64Array;
  /** [Σa, Σa·(b − mean)] per channel. */
  colSumDotCentered(a: TensorInfo, b: TensorInfo, mean: Float32Array): [Float64Array, Float64Array];
  /** Σ(x − mean)² per channel. */
  colSqCentered(x: TensorInfo, mean: Float32Array): Float64Array;
  /** out = max(x, 0), any size. */
  relu(x: TensorInfo, out: TensorInfo): void;
  /** out = x > 0 ? dy : 0, any size. */
  reluGrad(dy: TensorInfo, x: TensorInfo, out: TensorInfo): void;
  /** One Adam step: new weights, first and second moments into `out` (see the .wat for the formula). */
  adam(inputs: { w: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo }, out: { w: TensorInfo; m: TensorInfo; v: TensorInfo }, c: AdamConstants): void;
  /** MaxPool's gradient into a zeroed dx; geometry as computePool2DInfo gives it (no dilation). */
  maxPoolGrad(x: TensorInfo, dy: TensorInfo, dx: TensorInfo, geometry: MaxPoolGeometry): void;
}

/** Adam's constants for one step, as float32 values: b1, 1 − b1, b2, 1 − b2, 1 − b1ᵗ, 1 − b2ᵗ, −lr, eps. */
export interface AdamConstants {
  b1: number;
  nb1: number;
  b2: number;
  nb2: number;
  c1: number;
  c2: number;
  nlr: number;
  eps: number;
}

export interface MaxPoolGeometry {
  batch: number;
  inH: number;
  inW: number;
  ch: number;
  outH: number;
  outW: number;
  fh: number;
  fw: number;
  sh: number;
  sw: number;
  top: number;
  left: number;
}

/** Rows per call of an accumulating kernel: short enough that float32 partial sums stay accurate. */
const BLOCK_ROWS = 256;

let wasmBytes: Uint8Array<ArrayBuffer> | null | undefined;
const instances = new WeakMap<object, SimdKernels | null>();

function moduleBytes(): Uint8Array<ArrayBuffer> | null {
  if (wasmBytes === undefined) {
    try {
      wasmBytes = readFileSync(new URL('./simd-kernels.wasm', import.meta.url));
    } catch {
      wasmBytes = null; // not assembled (a build without scripts/assemble-wasm.mjs): JavaScript loops only
    }
  }
  return wasmBytes;
}

/** The kernels bound to this backend's heap, or null where they cannot run (no module, no SIMD). */
export function simdKernels(backend: WasmBackend): SimdKernels | null {
  const cached = instances.get(backend);
  if (cached !== undefined) return cached;
  const kernels = instantiate(backend);
  instances.set(backend, kernels);
  return kernels;
}

function instantiate(backend: WasmBackend): SimdKernels | null {
  const em = (backend as unknown as { wasm?: EmscriptenModule }).wasm;
  const memory = em?.asm?.memory;
  const bytes = moduleBytes();
  if (!em || !(memory instanceof WebAssembly.Memory) || !bytes) return null;
  let exports: Exports;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    exports = instance.exports as unknown as Exports;
  } catch {
    return null; // no WebAssembly SIMD in this engine
  }
  const at = (t: TensorInfo) => backend.typedArrayFromHeap(t).byteOffset;
  const channels = (t: TensorInfo) => t.shape[t.shape.length - 1];
  const rowsOf = (t: TensorInfo) => t.shape.reduce((a, b) => a * b, 1) / channels(t);
  /** Runs `fn` with a scratch block of `floats` values on the heap (filled by `fill`; its address passed), then frees it. */
  const withHeap = <T>(floats: number, fill: (heap: Float32Array, start: number) => void, fn: (ptr: number) => T): T => {
    const ptr = em._malloc(floats * 4);
    try {
      fill(em.HEAPF32, ptr / 4);
      return fn(ptr);
    } finally {
      em._free(ptr);
    }
  };
  const coefficients = (arrays: Float32Array[]) => (heap: Float32Array, start: number) =>
    arrays.forEach((a, i) => heap.set(a, start + i * a.length));
  /** Block-wise accumulation of `width` per-channel sums into float64. */
  const accumulate = (rows: number, ch: number, width: number, constants: Float32Array[], run: (row: number, n: number, acc: number, constPtr: number) => void): Float64Array[] => {
    const totals = Array.from({ length: width }, () => new Float64Array(ch));
    const constFloats = constants.reduce((n, a) => n + a.length, 0);
    withHeap(width * ch + constFloats, (heap, start) => coefficients(constants)(heap, start + width * ch), (ptr) => {
      for (let row = 0; row < rows; row += BLOCK_ROWS) {
        const n = Math.min(BLOCK_ROWS, rows - row);
        em.HEAPF32.fill(0, ptr / 4, ptr / 4 + width * ch);
        run(row, n, ptr, ptr + width * ch * 4);
        const heap = em.HEAPF32;
        for (let w = 0; w < width; w++) for (let c = 0; c < ch; c++) totals[w][c] += heap[ptr / 4 + w * ch + c];
      }
    });
    return totals;
  };
  return {
    affine2(a, b, out, p, q, s) {
      const ch = channels(out);
      withHeap(3 * ch, coefficients([p, q, s]), (coef) => exports.affine2(at(a), at(b), at(out), coef, rowsOf(out), ch));
    },
    scaleShift(x, out, k, s) {
      const ch = channels(out);
      withHeap(2 * ch, coefficients([k, s]), (coef) => exports.scale_shift(at(x), at(out), coef, rowsOf(out), ch));
    },
    colSum(x) {
      const ch = channels(x);
      const base = at(x);
      return accumulate(rowsOf(x), ch, 1, [], (row, n, acc) => exports.col_sum(base + row * ch * 4, n, ch, acc))[0];
    },
    colSumDotCentered(a, b, mean) {
      const ch = channels(a);
      const [baseA, baseB] = [at(a), at(b)];
      const [sum, dot] = accumulate(rowsOf(a), ch, 2, [mean], (row, n, acc, meanPtr) =>
        exports.col_sum_dot_centered(baseA + row * ch * 4, baseB + row * ch * 4, meanPtr, n, ch, acc),
      );
      return [sum, dot];
    },
    relu(x, out) {
      const n = out.shape.reduce((a, b) => a * b, 1);
      const body = n - (n % 4);
      exports.relu(at(x), at(out), body);
      // The last n % 4 values: the kernel works in fours.
      const [src, dst] = [backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out)];
      for (let i = body; i < n; i++) dst[i] = src[i] < 0 ? 0 : src[i];
    },
    reluGrad(dy, x, out) {
      const n = out.shape.reduce((a, b) => a * b, 1);
      const body = n - (n % 4);
      exports.relu_grad(at(dy), at(x), at(out), body);
      const [g, src, dst] = [backend.typedArrayFromHeap(dy), backend.typedArrayFromHeap(x), backend.typedArrayFromHeap(out)];
      for (let i = body; i < n; i++) dst[i] = src[i] > 0 ? g[i] : 0;
    },
    adam(i, o, c) {
      const n = o.w.shape.reduce((a, b) => a * b, 1);
      const body = n - (n % 4);
      exports.adam(at(i.w), at(i.m), at(i.v), at(i.g), at(o.w), at(o.m), at(o.v), body, c.b1, c.nb1, c.b2, c.nb2, c.c1, c.c2, c.nlr, c.eps);
      // The last n % 4 values, with float32 rounding after every operation as the kernel does.
      const f = Math.fround;
      const [w, m, v, g, ow, om, ov] = [i.w, i.m, i.v, i.g, o.w, o.m, o.v].map((t) => backend.typedArrayFromHeap(t) as Float32Array);
      for (let j = body; j < n; j++) {
        const mj = f(f(m[j] * c.b1) + f(g[j] * c.nb1));
        const vj = f(f(v[j] * c.b2) + f(f(g[j] * g[j]) * c.nb2));
        om[j] = mj;
        ov[j] = vj;
        ow[j] = f(f(f(f(mj / c.c1) / f(f(Math.sqrt(f(vj / c.c2))) + c.eps)) * c.nlr) + w[j]);
      }
    },
    maxPoolGrad(x, dy, dx, g) {
      const geometry = Int32Array.of(g.batch, g.inH, g.inW, g.ch, g.outH, g.outW, g.fh, g.fw, g.sh, g.sw, g.top, g.left);
      withHeap(geometry.length, (_, start) => em.HEAP32.set(geometry, start), (ptr) => exports.maxpool_grad(at(x), at(dy), at(dx), ptr));
    },
    colSqCentered(x, mean) {
      const ch = channels(x);
      const base = at(x);
      return accumulate(rowsOf(x), ch, 1, [mean], (row, n, acc, meanPtr) => exports.col_sq_centered(base + row * ch * 4, meanPtr, n, ch, acc))[0];
    },
  };
}
