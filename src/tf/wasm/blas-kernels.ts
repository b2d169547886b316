// Convolution (forward and both gradients) and BatchMatMul for the wasm backend as OpenBLAS GEMMs on the
// wasm heap, where OpenBLAS is available (native/blas.ts). They take the stride-1 convolutions that dominate a
// training step (any kernel size, dilation and padding); strided ones go to the XNNPACK kernels.
//
// The trick that needs no im2col: pad x to Xp [N,Hp,Wp,Cin] and read it as a matrix of N·Hp·Wp rows of Cin.
// The output at grid row r = (n·Hp + i)·Wp + j is Σ over taps (a,b) of Xp row r + a·dh·Wp + b·dw times the
// tap's [Cin,Cout] filter slice: one GEMM per tap over all rows at once, its A matrix Xp shifted by the
// tap's offset. Rows whose (i,j) lies outside the output are computed and dropped (cropped) afterwards;
// the gradients embed dy into the same grid with zeros there, so those rows contribute nothing. The GEMMs
// go image by image, each over the rows from its first output pixel to its last (the padding rows below an
// image's output are skipped), all taps of one image in a row so its blocks stay in cache:
//   y      = Σ_t shift_t(Xp) · W_t            (GEMM, accumulating over taps)
//   dXp    = Σ_t unshift_t(dyGrid · W_tᵀ)      (GEMM into dXp at the tap's offset, accumulating)
//   dW_t   = shift_t(Xp)ᵀ · dyGrid             (GEMM with the long dimension as the reduction)
import type { KernelFunc, TensorInfo, Tf, WasmBackend } from '../types.js';
import type { Blas } from '../native/blas.js';
import { conv2dInfo, fusedConvPlan, heapRef, matMulPlan, size, type Conv2DInfo, type HeapRef } from './heap.js';
import { wasmKernelRunner } from './conv-grads.js';

/** The padded grid a stride-1 convolution reads: Xp's size, where x sits in it, and the tap offsets. */
interface Grid {
  n: number;
  h: number;
  w: number;
  hp: number;
  wp: number;
  top: number;
  left: number;
  ho: number;
  wo: number;
  cin: number;
  cout: number;
  padded: boolean;
  /** Output fills the whole grid (1x1 kernels without padding): no crop or embed needed. */
  whole: boolean;
  /** Row offset of each tap, in filter order (a·kw + b). */
  offsets: number[];
  /** Grid rows per image from its first to its last output pixel: (Ho − 1)·Wp + Wo. */
  rowsPerImage: number;
  /** Grid rows per image, Hp·Wp. */
  imageRows: number;
}

function gridOf(info: Conv2DInfo): Grid | undefined {
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return undefined;
  const { top, bottom, left, right } = info.padInfo;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) return undefined;
  const n = info.batchSize;
  const h = info.inHeight;
  const w = info.inWidth;
  const hp = h + top + bottom;
  const wp = w + left + right;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  const dh = info.dilationHeight;
  const dw = info.dilationWidth;
  const ho = hp - (kh - 1) * dh;
  const wo = wp - (kw - 1) * dw;
  if (ho !== info.outHeight || wo !== info.outWidth || ho <= 0 || wo <= 0) return undefined;
  const offsets: number[] = [];
  for (let a = 0; a < kh; a++) for (let b = 0; b < kw; b++) offsets.push(a * dh * wp + b * dw);
  return {
    n, h, w, hp, wp, top, left, ho, wo,
    cin: info.inChannels,
    cout: info.outChannels,
    padded: top + bottom + left + right > 0,
    whole: ho === hp && wo === wp,
    offsets,
    rowsPerImage: (ho - 1) * wp + wo,
    imageRows: hp * wp,
  };
}

/** Copies x [N,H,W,C] into the zeroed interior of xp [N,Hp,Wp,C]. */
function padInto(m: HeapRef, x: TensorInfo, xp: TensorInfo, g: Grid, c: number): void {
  const src = m.at(x);
  const dst = m.at(xp);
  m.heap.fill(0, dst, dst + g.n * g.hp * g.wp * c);
  const span = g.w * c;
  for (let n = 0; n < g.n; n++) {
    for (let i = 0; i < g.h; i++) {
      const s = src + (n * g.h + i) * span;
      m.heap.copyWithin(dst + ((n * g.hp + i + g.top) * g.wp + g.left) * c, s, s + span);
    }
  }
}

/** The inverse of padInto: x's rows out of the interior of xp. */
function cropFrom(m: HeapRef, xp: TensorInfo, x: TensorInfo, g: Grid, c: number): void {
  const src = m.at(xp);
  const dst = m.at(x);
  const span = g.w * c;
  for (let n = 0; n < g.n; n++) {
    for (let i = 0; i < g.h; i++) {
      const s = src + ((n * g.hp + i + g.top) * g.wp + g.left) * c;
      m.heap.copyWithin(dst + (n * g.h + i) * span, s, s + span);
    }
  }
}

/** y [N,Ho,Wo,C] into the top-left of each image of a zeroed full grid [N,Hp,Wp,C], or back. */
function gridTransfer(m: HeapRef, dense: TensorInfo, full: TensorInfo, g: Grid, c: number, direction: 'embed' | 'crop'): void {
  const d = m.at(dense);
  const f = m.at(full);
  if (direction === 'embed') m.heap.fill(0, f, f + g.n * g.hp * g.wp * c);
  const span = g.wo * c;
  for (let n = 0; n < g.n; n++) {
    for (let i = 0; i < g.ho; i++) {
      const di = d + (n * g.ho + i) * span;
      const fi = f + (n * g.hp + i) * g.wp * c;
      if (direction === 'embed') m.heap.copyWithin(fi, di, di + span);
      else m.heap.copyWithin(di, fi, fi + span);
    }
  }
}

/** Calls `gemm` for every image and tap, image by image (see the header), with the image's first grid row. */
function eachImageTap(g: Grid, gemm: (row: number, offset: number, tap: number, image: number) => void): void {
  for (let n = 0; n < g.n; n++) g.offsets.forEach((offset, tap) => gemm(n * g.imageRows, offset, tap, n));
}

/** y = conv(x, filter), stride 1. */
function convForward(blas: Blas, backend: WasmBackend, x: TensorInfo, filter: TensorInfo, g: Grid): TensorInfo {
  const y = backend.makeOutput([g.n, g.ho, g.wo, g.cout], 'float32');
  if (size(y.shape) === 0) return y;
  const xp = g.padded ? backend.makeOutput([g.n, g.hp, g.wp, g.cin], 'float32') : x;
  const full = g.whole ? y : backend.makeOutput([g.n, g.hp, g.wp, g.cout], 'float32');
  try {
    const m = heapRef(backend, y);
    if (g.padded) padInto(m, x, xp, g, g.cin);
    eachImageTap(g, (row, off, t) =>
      blas.sgemm(false, false, g.rowsPerImage, g.cout, g.cin, 1, m.addr(xp, (row + off) * g.cin), g.cin, m.addr(filter, t * g.cin * g.cout), g.cout, t === 0 ? 0 : 1, m.addr(full, row * g.cout), g.cout),
    );
    if (!g.whole) gridTransfer(m, y, full, g, g.cout, 'crop');
  } finally {
    if (xp !== x) backend.disposeData(xp.dataId);
    if (full !== y) backend.disposeData(full.dataId);
  }
  return y;
}

/** dx from dy and the filter, stride 1. */
function convBackpropInput(blas: Blas, backend: WasmBackend, dy: TensorInfo, filter: TensorInfo, g: Grid): TensorInfo {
  const dx = backend.makeOutput([g.n, g.h, g.w, g.cin], 'float32');
  if (size(dx.shape) === 0) return dx;
  const dxp = g.padded ? backend.makeOutput([g.n, g.hp, g.wp, g.cin], 'float32') : dx;
  const dyGrid = g.whole ? dy : backend.makeOutput([g.n, g.hp, g.wp, g.cout], 'float32');
  try {
    const m = heapRef(backend, dx);
    if (!g.whole) gridTransfer(m, dy, dyGrid, g, g.cout, 'embed');
    const start = m.at(dxp);
    m.heap.fill(0, start, start + g.n * g.hp * g.wp * g.cin);
    eachImageTap(g, (row, off, t) =>
      blas.sgemm(false, true, g.rowsPerImage, g.cin, g.cout, 1, m.addr(dyGrid, row * g.cout), g.cout, m.addr(filter, t * g.cin * g.cout), g.cout, 1, m.addr(dxp, (row + off) * g.cin), g.cin),
    );
    if (g.padded) cropFrom(m, dxp, dx, g, g.cin);
  } finally {
    if (dxp !== dx) backend.disposeData(dxp.dataId);
    if (dyGrid !== dy) backend.disposeData(dyGrid.dataId);
  }
  return dx;
}

/** dW [kh,kw,Cin,Cout] from x and dy, stride 1. */
function convBackpropFilter(blas: Blas, backend: WasmBackend, x: TensorInfo, dy: TensorInfo, filterShape: number[], g: Grid): TensorInfo {
  const dW = backend.makeOutput(filterShape, 'float32');
  if (size(filterShape) === 0) return dW;
  const xp = g.padded ? backend.makeOutput([g.n, g.hp, g.wp, g.cin], 'float32') : x;
  const dyGrid = g.whole ? dy : backend.makeOutput([g.n, g.hp, g.wp, g.cout], 'float32');
  try {
    const m = heapRef(backend, dW);
    if (g.padded) padInto(m, x, xp, g, g.cin);
    if (!g.whole) gridTransfer(m, dy, dyGrid, g, g.cout, 'embed');
    eachImageTap(g, (row, off, t, n) =>
      blas.sgemm(true, false, g.cin, g.cout, g.rowsPerImage, 1, m.addr(xp, (row + off) * g.cin), g.cin, m.addr(dyGrid, row * g.cout), g.cout, n === 0 ? 0 : 1, m.addr(dW, t * g.cin * g.cout), g.cout),
    );
  } finally {
    if (xp !== x) backend.disposeData(xp.dataId);
    if (dyGrid !== dy) backend.disposeData(dyGrid.dataId);
  }
  return dW;
}

/** Conv2D through BLAS where it applies (float32, NHWC, stride 1), else `fallback`. */
export function blasConv2D(tf: Tf, blas: Blas, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter } = args.inputs;
    const info = x.dtype === 'float32' && filter.dtype === 'float32' ? conv2dInfo(tf, x.shape, filter.shape, args.attrs) : undefined;
    const g = info && gridOf(info);
    return g ? convForward(blas, args.backend, x, filter, g) : fallback(args);
  };
}

export function blasConv2DBackpropInput(tf: Tf, blas: Blas, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { dy, filter } = args.inputs;
    const inputShape = args.attrs.inputShape as number[];
    const info = dy.dtype === 'float32' && filter.dtype === 'float32' ? conv2dInfo(tf, inputShape, filter.shape, args.attrs) : undefined;
    const g = info && gridOf(info);
    if (!g || dy.shape.join() !== [g.n, g.ho, g.wo, g.cout].join()) return fallback(args);
    return convBackpropInput(blas, args.backend, dy, filter, g);
  };
}

export function blasConv2DBackpropFilter(tf: Tf, blas: Blas, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, dy } = args.inputs;
    const filterShape = args.attrs.filterShape as number[];
    const info = x.dtype === 'float32' && dy.dtype === 'float32' ? conv2dInfo(tf, x.shape, filterShape, args.attrs) : undefined;
    const g = info && gridOf(info);
    if (!g || dy.shape.join() !== [g.n, g.ho, g.wo, g.cout].join()) return fallback(args);
    return convBackpropFilter(blas, args.backend, x, dy, filterShape, g);
  };
}

/**
 * BatchMatMul on float32 inputs of rank ≥ 2 ([...batch, rows, cols]) whose batch dimensions are equal or
 * one of which holds a single matrix (broadcast); anything else goes to `fallback`.
 */
export function blasBatchMatMul(blas: Blas, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const plan = matMulPlan(args);
    if (!plan) return fallback(args);
    const { a, b } = args.inputs;
    const { batchA, batchB, m, n, k, transA, transB, lda, ldb } = plan;
    const batch = Math.max(batchA, batchB);
    const out = args.backend.makeOutput(plan.outShape, 'float32');
    if (batch * m * n === 0) return out;
    const h = heapRef(args.backend, out);
    if (k === 0) {
      h.heap.fill(0, h.at(out), h.at(out) + batch * m * n);
      return out;
    }
    for (let i = 0; i < batch; i++) {
      const aAt = h.addr(a, batchA === 1 ? 0 : i * m * k);
      const bAt = h.addr(b, batchB === 1 ? 0 : i * k * n);
      blas.sgemm(transA, transB, m, n, k, 1, aAt, lda, bAt, ldb, 0, h.addr(out, i * m * n), n);
    }
    return out;
  };
}

/**
 * FusedConv2D (what model.predict runs): the BLAS convolution, then bias and a linear or relu activation
 * in place; other activations, PReLU weights or a bias that is not per channel go to `fallback`.
 */
export function blasFusedConv2D(tf: Tf, blas: Blas, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter, bias } = args.inputs;
    const plan = fusedConvPlan(tf, args);
    const g = plan && gridOf(plan.info);
    if (!plan || !g) return fallback(args);
    const y = convForward(blas, args.backend, x, filter, g);
    // Bias and relu as the backend's own compiled kernels: a JS loop over the activations costs more
    // than the convolution's GEMMs.
    const run = wasmKernelRunner(tf, args.backend);
    let out = y;
    if (bias) {
      out = run('Add', { a: y, b: bias });
      args.backend.disposeData(y.dataId);
    }
    if (plan.relu) {
      const activated = run('Relu', { x: out });
      args.backend.disposeData(out.dataId);
      out = activated;
    }
    return out;
  };
}
