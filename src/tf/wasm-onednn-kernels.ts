// Convolutions (forward, fused with bias and relu for model.predict, and both gradients, any stride and
// dilation) and BatchMatMul for the wasm backend on oneDNN (onednn.ts), in place on the wasm heap: the
// tensors stay NHWC and the filters [kh,kw,Cin,Cout], the layouts oneDNN calls nhwc and hwio, so no copy
// or reorder is made on our side. What oneDNN cannot take (other layouts, negative padding) goes to
// `fallback`, the kernel this one replaces.
import type { Tf } from './backend.js';
import type { ConvShape, OneDnn } from './onednn.js';
import type { KernelFunc } from './wasm-fast-reductions.js';
import { conv2dInfo, fusedConvPlan, heapRef, matMulPlan, size, type Conv2DInfo, type TensorInfo } from './wasm-heap.js';

function convShape(info: Conv2DInfo): ConvShape | undefined {
  const { top, bottom, left, right } = info.padInfo;
  if (top < 0 || left < 0 || bottom < 0 || right < 0) return undefined;
  if (info.outHeight <= 0 || info.outWidth <= 0) return undefined;
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    cin: info.inChannels,
    ho: info.outHeight,
    wo: info.outWidth,
    cout: info.outChannels,
    kh: info.filterHeight,
    kw: info.filterWidth,
    strides: [info.strideHeight, info.strideWidth],
    dilations: [info.dilationHeight, info.dilationWidth],
    padBefore: [top, left],
    padAfter: [bottom, right],
  };
}

function floats(...ts: Array<TensorInfo | undefined>): boolean {
  return ts.every((t) => !t || t.dtype === 'float32');
}

export function onednnConv2D(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter } = args.inputs;
    const info = floats(x, filter) ? conv2dInfo(tf, x.shape, filter.shape, args.attrs) : undefined;
    const s = info && convShape(info);
    if (!s || size(x.shape) === 0 || size(filter.shape) === 0) return fallback(args);
    const y = args.backend.makeOutput([s.n, s.ho, s.wo, s.cout], 'float32');
    const m = heapRef(args.backend, y);
    onednn.convForward(s, m.addr(x), m.addr(filter), m.addr(y));
    return y;
  };
}

/** FusedConv2D (what model.predict runs) with a per-channel bias and a linear or relu activation, in one primitive. */
export function onednnFusedConv2D(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter, bias } = args.inputs;
    const plan = fusedConvPlan(tf, args);
    const s = plan && convShape(plan.info);
    if (!plan || !s || size(x.shape) === 0 || size(filter.shape) === 0) return fallback(args);
    const y = args.backend.makeOutput([s.n, s.ho, s.wo, s.cout], 'float32');
    const m = heapRef(args.backend, y);
    onednn.convForward(s, m.addr(x), m.addr(filter), m.addr(y), bias && m.addr(bias), plan.relu);
    return y;
  };
}

export function onednnConv2DBackpropInput(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { dy, filter } = args.inputs;
    const inputShape = args.attrs.inputShape as number[];
    const info = floats(dy, filter) ? conv2dInfo(tf, inputShape, filter.shape, args.attrs) : undefined;
    const s = info && convShape(info);
    if (!s || dy.shape.join() !== [s.n, s.ho, s.wo, s.cout].join() || size(dy.shape) === 0 || size(filter.shape) === 0) return fallback(args);
    const dx = args.backend.makeOutput(inputShape, 'float32');
    const m = heapRef(args.backend, dx);
    onednn.convBackwardData(s, m.addr(dy), m.addr(filter), m.addr(dx));
    return dx;
  };
}

export function onednnConv2DBackpropFilter(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, dy } = args.inputs;
    const filterShape = args.attrs.filterShape as number[];
    const info = floats(x, dy) ? conv2dInfo(tf, x.shape, filterShape, args.attrs) : undefined;
    const s = info && convShape(info);
    if (!s || dy.shape.join() !== [s.n, s.ho, s.wo, s.cout].join() || size(dy.shape) === 0 || size(x.shape) === 0) return fallback(args);
    const dw = args.backend.makeOutput(filterShape, 'float32');
    const m = heapRef(args.backend, dw);
    onednn.convBackwardWeights(s, m.addr(x), m.addr(dy), m.addr(dw));
    return dw;
  };
}

/** BatchMatMul where matMulPlan takes it (equal or broadcast batches), else `fallback`. */
export function onednnBatchMatMul(onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const plan = matMulPlan(args);
    // k = 0 sums nothing: the stock kernel writes the zeros.
    if (!plan || plan.k === 0) return fallback(args);
    const { a, b } = args.inputs;
    const out = args.backend.makeOutput(plan.outShape, 'float32');
    if (Math.max(plan.batchA, plan.batchB) * plan.m * plan.n === 0) return out;
    const h = heapRef(args.backend, out);
    onednn.matmul(plan, h.addr(a), h.addr(b), h.addr(out));
    return out;
  };
}
