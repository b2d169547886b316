// Convolutions (forward, fused with bias and relu for inference, and both gradients, any stride and
// dilation), matrix products (BatchMatMul, and dense layers' _FusedMatMul with bias and relu), pooling (max and
// average, both directions) and batch normalisation (training with the batch's statistics and its gradient,
// inference) for the wasm backend on oneDNN (native/onednn.ts), in place on the wasm heap: the tensors stay NHWC
// and the filters [kh,kw,Cin,Cout], the layouts oneDNN calls nhwc and hwio, so no copy or reorder is made on
// our side. What oneDNN cannot take (other layouts, negative padding) goes to `fallback`, the kernel this one
// replaces. NATIVE_KERNELS (native/kernels.ts) says which of these are installed.
import type { KernelFunc, MultiOutputKernelFunc, TensorInfo, Tf } from '../types.js';
import type { BatchNormShape, ConvShape, OneDnn, PoolAlgorithm, PoolShape } from '../native/onednn.js';
import { conv2dInfo, fusedConvPlan, fusedMatMulPlan, heapBytes, heapRef, size, type Conv2DInfo } from './heap.js';

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

/** FusedConv2D (what inference runs) with a per-channel bias and a linear or relu activation, in one primitive. */
export function onednnFusedConv2D(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, filter, bias } = args.inputs;
    const plan = fusedConvPlan(tf, args);
    const s = plan && convShape(plan.info);
    if (!plan || !s || size(x.shape) === 0 || size(filter.shape) === 0) return fallback(args);
    const y = args.backend.makeOutput([s.n, s.ho, s.wo, s.cout], 'float32');
    const m = heapRef(args.backend, y);
    // A fused convolution is inference (or a linear layer): its filter repeats from call to call.
    onednn.convForward(s, m.addr(x), m.addr(filter), m.addr(y), { bias: bias && m.addr(bias), relu: plan.relu, filterBytes: heapBytes(args.backend, filter) });
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

/**
 * BatchMatMul, and _FusedMatMul (dense layers) with a per-column bias and a linear or relu activation in the
 * same primitive, where fusedMatMulPlan takes them (equal or broadcast batches), else `fallback`. It takes
 * fused products of every size: the stock _FusedMatMul adds the bias wrongly unless the batch is 1 and neither
 * operand is transposed (tfjs 4.22), which dense layers never leave but other callers may.
 */
export function onednnMatMul(onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const fused = fusedMatMulPlan(args);
    // k = 0 sums nothing: the stock kernel writes the zeros (and the bias).
    if (!fused || fused.plan.k === 0) return fallback(args);
    const { plan, relu } = fused;
    const { a, b, bias } = args.inputs;
    const out = args.backend.makeOutput(plan.outShape, 'float32');
    if (Math.max(plan.batchA, plan.batchB) * plan.m * plan.n === 0) return out;
    const h = heapRef(args.backend, out);
    onednn.matmul(plan, h.addr(a), h.addr(b), h.addr(out), { bias: bias && h.addr(bias), relu });
    return out;
  };
}

/** tfjs's attributes of a 2-D pooling op and its gradient. */
interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/**
 * The pooling oneDNN runs for float32 NHWC input of this shape, else undefined. oneDNN wants the padding
 * after the input that its output size formula needs; cells of it past what tfjs pads are never read by a
 * window that tfjs does not also clip, so max and the exclusive mean are the same (and the inclusive mean
 * divides by the window's size either way). Padding a whole window wide, which only tfjs takes, falls back.
 */
function poolShape(tf: Tf, x: TensorInfo, attrs: Record<string, unknown>): PoolShape | undefined {
  if (x.dtype !== 'float32' || x.shape.length !== 4 || size(x.shape) === 0) return undefined;
  const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as PoolAttrs;
  const info = tf.backend_util.computePool2DInfo(x.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
  const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  const bottom = Math.max(0, (ho - 1) * sh + kh - info.inHeight - top);
  const right = Math.max(0, (wo - 1) * sw + kw - info.inWidth - left);
  if (ho <= 0 || wo <= 0 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
  if (top < 0 || left < 0 || Math.max(top, bottom) >= kh || Math.max(left, right) >= kw) return undefined;
  return {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    ho,
    wo,
    kh,
    kw,
    strides: [sh, sw],
    padBefore: [top, left],
    padAfter: [bottom, right],
  };
}

export function onednnMaxPool(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return poolForward(tf, onednn, 'max', fallback);
}

/** AvgPool: the mean over the cells of each window inside the input, as tfjs (and TensorFlow) take it. */
export function onednnAvgPool(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return poolForward(tf, onednn, 'avg-exclude-padding', fallback);
}

function poolForward(tf: Tf, onednn: OneDnn, algorithm: PoolAlgorithm, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    const s = poolShape(tf, x, args.attrs);
    if (!s) return fallback(args);
    const y = args.backend.makeOutput([s.n, s.ho, s.wo, s.c], 'float32');
    const m = heapRef(args.backend, y);
    onednn.poolForward(s, algorithm, m.addr(x), m.addr(y));
    return y;
  };
}

/** MaxPoolGrad: each dy to the first maximum of its window (rows, then columns), as the cpu backend does. */
export function onednnMaxPoolGrad(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return poolBackward(tf, onednn, 'max', fallback);
}

/**
 * AvgPoolGrad: dy / window size to every cell of the window inside the input. That is the gradient of the
 * inclusive mean, not of AvgPool's exclusive one where a window is padded; tfjs's kernels (cpu and wasm) take
 * it so, and models must train the same whichever kernels run.
 */
export function onednnAvgPoolGrad(tf: Tf, onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return poolBackward(tf, onednn, 'avg-include-padding', fallback);
}

function poolBackward(tf: Tf, onednn: OneDnn, algorithm: PoolAlgorithm, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { dy, input } = args.inputs;
    const s = poolShape(tf, input, args.attrs);
    if (!s || dy.dtype !== 'float32' || dy.shape.join() !== [s.n, s.ho, s.wo, s.c].join()) return fallback(args);
    const dx = args.backend.makeOutput(input.shape, 'float32');
    const m = heapRef(args.backend, dx);
    onednn.poolBackward(s, algorithm, m.addr(input), m.addr(dy), m.addr(dx));
    return dx;
  };
}

/**
 * Float32 channels-last x (rank ≥ 2) and per-channel vectors of its channel count, as oneDNN's NHWC batch
 * normalisation takes them, else undefined. Rank 4 keeps its geometry; any other rank is rows of channels.
 */
function batchNormShape(x: TensorInfo, perChannel: Array<TensorInfo | undefined>, epsilon: number): BatchNormShape | undefined {
  if (x.dtype !== 'float32' || x.shape.length < 2) return undefined;
  const c = x.shape[x.shape.length - 1];
  const rows = c === 0 ? 0 : size(x.shape) / c;
  if (rows === 0 || !perChannel.every((t) => !t || (t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === c))) return undefined;
  const [n, h, w] = x.shape.length === 4 ? x.shape : [rows, 1, 1];
  return { n, h, w, c, epsilon };
}

/** FusedBatchNorm (inference: given statistics), offset and scale optional. */
export function onednnFusedBatchNorm(onednn: OneDnn, fallback: KernelFunc): KernelFunc {
  return (args) => {
    const { x, mean, variance, offset, scale } = args.inputs;
    const s = mean && variance ? batchNormShape(x, [mean, variance, offset, scale], args.attrs.varianceEpsilon as number) : undefined;
    if (!s) return fallback(args);
    const y = args.backend.makeOutput(x.shape, 'float32');
    const m = heapRef(args.backend, y);
    onednn.batchNormInference(s, m.addr(x), m.addr(mean), m.addr(variance), scale && m.addr(scale), offset && m.addr(offset), m.addr(y));
    return y;
  };
}

/** BATCHNORM_TRAINING_KERNEL (see wasm/channel-kernels.ts) in one primitive. */
export function onednnBatchNormTraining(onednn: OneDnn, fallback: MultiOutputKernelFunc): MultiOutputKernelFunc {
  return (args) => {
    const { x, gamma, beta } = args.inputs;
    const s = batchNormShape(x, [gamma, beta], args.attrs.epsilon as number);
    if (!s || !gamma || !beta) return fallback(args);
    const y = args.backend.makeOutput(x.shape, 'float32');
    const stats = args.backend.makeOutput([2, s.c], 'float32');
    const m = heapRef(args.backend, y);
    onednn.batchNormTraining(s, m.addr(x), m.addr(gamma), m.addr(beta), m.addr(y), m.addr(stats), m.addr(stats, s.c));
    return [y, stats];
  };
}

/** BATCHNORM_TRAINING_GRAD_KERNEL (see wasm/channel-kernels.ts) in one primitive. */
export function onednnBatchNormTrainingGrad(onednn: OneDnn, fallback: MultiOutputKernelFunc): MultiOutputKernelFunc {
  return (args) => {
    const { dy, x, stats, gamma } = args.inputs;
    const s = batchNormShape(x, [gamma], args.attrs.epsilon as number);
    const fits = s && dy.dtype === 'float32' && dy.shape.join() === x.shape.join() && stats.dtype === 'float32' && stats.shape.join() === [2, s.c].join();
    if (!s || !fits) return fallback(args);
    const dx = args.backend.makeOutput(x.shape, 'float32');
    const dGamma = args.backend.makeOutput([s.c], 'float32');
    const dBeta = args.backend.makeOutput([s.c], 'float32');
    const m = heapRef(args.backend, dx);
    onednn.batchNormBackward(s, m.addr(x), m.addr(dy), m.addr(stats), m.addr(stats, s.c), m.addr(gamma), m.addr(dx), m.addr(dGamma), m.addr(dBeta));
    return [dx, dGamma, dBeta];
  };
}
