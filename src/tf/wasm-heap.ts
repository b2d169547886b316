// What the native kernels (OpenBLAS, oneDNN) need to work in place on the wasm backend's heap: where a
// tensor's floats are, as an index and as a native address, and the convolution geometry tfjs computes.
import type { Tf } from './backend.js';
import { nativeAddress } from './ffi.js';
import type { WasmBackend } from './wasm-fast-reductions.js';

export type TensorInfo = { dataId: object; shape: number[]; dtype: string };
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
