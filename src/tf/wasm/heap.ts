// What the native kernels (OpenBLAS, oneDNN) need to work in place on the wasm backend's heap: where a
// tensor's floats are, as an index and as a native address, and the convolution geometry tfjs computes.
import type { KernelFunc, TensorInfo, Tf, WasmBackend } from '../types.js';
import { nativeAddress } from '../native/ffi.js';
import type { MatMulShape } from '../native/onednn.js';

export type Conv2DInfo = ReturnType<Tf['backend_util']['computeConv2DInfo']>;

/** Where a tensor's floats start, as an element index into the whole wasm heap and as an address. */
export interface HeapRef {
  heap: Float32Array;
  at: (t: TensorInfo) => number;
  addr: (t: TensorInfo, elementOffset?: number) => bigint;
}

/** Views of the heap as it is now: take them after the last allocation (growth detaches old ones). */
export function heapRef(backend: WasmBackend, any: TensorInfo): HeapRef {
  const view = backend.typedArrayFromHeap(any) as Float32Array;
  const heap = new Float32Array(view.buffer);
  const base = nativeAddress(heap);
  const at = (t: TensorInfo) => (backend.typedArrayFromHeap(t) as Float32Array).byteOffset / 4;
  return { heap, at, addr: (t, off = 0) => base + BigInt((at(t) + off) * 4) };
}

/** A tensor's bytes on the wasm heap, as a view (valid until the heap next grows). */
export function heapBytes(backend: WasmBackend, t: TensorInfo): Uint8Array {
  const view = backend.typedArrayFromHeap(t);
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** tfjs's geometry of an NHWC convolution, or undefined for other layouts and ranks. */
export function conv2dInfo(tf: Tf, xShape: number[], filterShape: number[], attrs: Record<string, unknown>): Conv2DInfo | undefined {
  const format = attrs.dataFormat;
  if (format !== undefined && format !== 'NHWC' && format !== 'channelsLast') return undefined;
  if (xShape.length !== 4 || filterShape.length !== 4) return undefined;
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides as never,
    (attrs.dilations ?? 1) as never,
    attrs.pad as never,
    attrs.dimRoundingMode as never,
    false,
    'channelsLast',
  );
}

/**
 * A FusedConv2D (what model.predict runs) a native kernel can take whole: float32 NHWC data, a linear or relu
 * activation, no PReLU weights, a bias of one value per output channel or none. Else undefined.
 */
export function fusedConvPlan(tf: Tf, args: Parameters<KernelFunc>[0]): { info: Conv2DInfo; relu: boolean } | undefined {
  const { x, filter, bias, preluActivationWeights } = args.inputs;
  const activation = (args.attrs.activation as string | undefined) ?? 'linear';
  if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return undefined;
  if (![x, filter, bias].every((t) => !t || t.dtype === 'float32')) return undefined;
  const info = conv2dInfo(tf, x.shape, filter.shape, args.attrs);
  if (!info || (bias && size(bias.shape) !== info.outChannels)) return undefined;
  return { info, relu: activation === 'relu' };
}

/** A BatchMatMul as matrices: out[i] = op(a[i])·op(b[i]), a batch of one on either side broadcast. */
export interface MatMulPlan extends MatMulShape {
  /** Row lengths of a and b as stored. */
  lda: number;
  ldb: number;
  /** The output's shape. */
  outShape: number[];
}

/**
 * A BatchMatMul a native kernel can take: float32 inputs of rank ≥ 2 ([...batch, rows, cols]) whose batch
 * dimensions are equal or one of which holds a single matrix. Else undefined, also for mismatched inner
 * dimensions (the stock kernel words that error).
 */
export function matMulPlan(args: Parameters<KernelFunc>[0]): MatMulPlan | undefined {
  const { a, b } = args.inputs;
  const transA = Boolean(args.attrs.transposeA);
  const transB = Boolean(args.attrs.transposeB);
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return undefined;
  const leadA = a.shape.slice(0, -2);
  const leadB = b.shape.slice(0, -2);
  const [a1, a2] = a.shape.slice(-2);
  const [b1, b2] = b.shape.slice(-2);
  const batchA = size(leadA);
  const batchB = size(leadB);
  const sameLead = leadA.length === leadB.length && leadA.every((d, i) => d === leadB[i]);
  if (!sameLead && batchA !== 1 && batchB !== 1) return undefined;
  const [m, k] = transA ? [a2, a1] : [a1, a2];
  const [kb, n] = transB ? [b2, b1] : [b1, b2];
  if (k !== kb) return undefined;
  const lead = batchA >= batchB && leadA.length >= leadB.length ? leadA : leadB;
  return { batchA, batchB, m, n, k, transA, transB, lda: a2, ldb: b2, outShape: [...lead, m, n] };
}

/**
 * A BatchMatMul or _FusedMatMul (what dense layers run) a native kernel can take: a matMulPlan, a linear or relu
 * activation (BatchMatMul has none: linear), and a bias with one value per output column (or none). Else undefined.
 */
export function fusedMatMulPlan(args: Parameters<KernelFunc>[0]): { plan: MatMulPlan; relu: boolean } | undefined {
  const { bias, preluActivationWeights } = args.inputs;
  const activation = (args.attrs.activation as string | undefined) ?? 'linear';
  if (preluActivationWeights || (activation !== 'linear' && activation !== 'relu')) return undefined;
  const plan = matMulPlan(args);
  if (!plan || (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== plan.n))) return undefined;
  return { plan, relu: activation === 'relu' };
}
