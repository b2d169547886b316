// Conv2D gradient kernels for the wasm backend, built from its own XNNPACK-backed Conv2D.
//
// Stock tfjs-backend-wasm 4.22 has no Conv2DBackpropFilter (so a conv net cannot train) and its
// Conv2DBackpropInput is a naive loop. Both gradients are themselves convolutions:
//   dx = conv(dy zero-dilated by the stride, filter flipped in space with in/out channels swapped)
//   dW = conv(x as [Cin,H,W,N], dy as a [Hy,Wy,N,Cout] filter dilated by the stride) as [Cin,kh,kw,Cout]
// so we express them as calls to the backend's registered kernels (Conv2D, Transpose, Reverse,
// PadV2, Slice, Reshape) and free every intermediate. Unsupported cases throw; they never guess.
import type { TensorInfo, Tf } from '../types.js';

type Backend = { disposeData(dataId: object, force?: boolean): boolean };
type Pad = 'same' | 'valid' | number | number[][];

/** Calls one kernel of the wasm backend directly (no tape, no engine bookkeeping). */
export function wasmKernelRunner(tf: Tf, backend: Backend) {
  return (name: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown> = {}): TensorInfo => {
    const kernel = tf.getKernel(name, 'wasm');
    if (!kernel) throw new Error(`wasm backend has no '${name}' kernel`);
    return kernel.kernelFunc({ inputs, attrs, backend } as never) as TensorInfo;
  };
}

function checkChannelsLast(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports only NHWC (channels-last) data, got dataFormat '${String(dataFormat)}'`);
  }
}

function pair(v: number | number[]): [number, number] {
  return typeof v === 'number' ? [v, v] : [v[0], v[1]];
}

/**
 * Runs Conv2D with explicit padding that may be negative on any side: a negative pad crops the input
 * (XNNPACK only takes non-negative padding). Disposes nothing it was given.
 */
function convWithSignedPads(
  run: ReturnType<typeof wasmKernelRunner>,
  backend: Backend,
  x: TensorInfo,
  filter: TensorInfo,
  pads: { top: number; bottom: number; left: number; right: number },
  strides: [number, number],
  dilations: [number, number],
): TensorInfo {
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(0, -pads.top);
  const cropBottom = Math.max(0, -pads.bottom);
  const cropLeft = Math.max(0, -pads.left);
  const cropRight = Math.max(0, -pads.right);
  let input = x;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    input = run('Slice', { x }, {
      begin: [0, cropTop, cropLeft, 0],
      size: [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c],
    });
  }
  const pad = [
    [0, 0],
    [Math.max(0, pads.top), Math.max(0, pads.bottom)],
    [Math.max(0, pads.left), Math.max(0, pads.right)],
    [0, 0],
  ];
  try {
    return run('Conv2D', { x: input, filter }, { strides, dilations, pad, dataFormat: 'NHWC', dimRoundingMode: undefined });
  } finally {
    if (input !== x) backend.disposeData(input.dataId);
  }
}

/** Inserts (stride-1) zeros between rows and columns of an NHWC tensor: [N,H,W,C] → [N,(H-1)s+1,(W-1)s+1,C]. */
function zeroDilate(
  run: ReturnType<typeof wasmKernelRunner>,
  backend: Backend,
  x: TensorInfo,
  [sh, sw]: [number, number],
): TensorInfo {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const r6 = run('Reshape', { x }, { shape: [n, h, 1, w, 1, c] });
  const padded = run('PadV2', { x: r6 }, {
    paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
    constantValue: 0,
  });
  backend.disposeData(r6.dataId);
  const r4 = run('Reshape', { x: padded }, { shape: [n, h * sh, w * sw, c] });
  backend.disposeData(padded.dataId);
  // Drop the trailing zeros after the last row/column.
  const out = run('Slice', { x: r4 }, { begin: [0, 0, 0, 0], size: [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c] });
  backend.disposeData(r4.dataId);
  return out;
}

export interface ConvGradAttrs {
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: string;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

function convInfoFor(tf: Tf, kernel: string, xShape: number[], filterShape: number[], attrs: ConvGradAttrs) {
  checkChannelsLast(kernel, attrs.dataFormat);
  const dil = pair(attrs.dilations ?? 1);
  const str = pair(attrs.strides);
  if ((dil[0] > 1 || dil[1] > 1) && (str[0] > 1 || str[1] > 1)) {
    throw new Error(`${kernel} on wasm: strides ${str} together with dilations ${dil} are not supported (one of them must be 1)`);
  }
  if (xShape.length !== 4 || filterShape.length !== 4) {
    throw new Error(`${kernel} on wasm expects a 4-D input and filter, got shapes [${xShape}] and [${filterShape}]`);
  }
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    str,
    dil,
    attrs.pad as never,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** Conv2DBackpropInput: dx[N,H,W,Cin] from dy[N,Hy,Wy,Cout] and filter[kh,kw,Cin,Cout]. */
export function conv2dBackpropInput(tf: Tf, backend: Backend, dy: TensorInfo, filter: TensorInfo, inputShape: number[], attrs: ConvGradAttrs): TensorInfo {
  const run = wasmKernelRunner(tf, backend);
  const info = convInfoFor(tf, 'Conv2DBackpropInput', inputShape, filter.shape, attrs);
  if (dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== info.outChannels) {
    throw new Error(`Conv2DBackpropInput on wasm: dy shape [${dy.shape}] does not match the forward output [${info.outShape}]`);
  }
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  const [, h, w] = inputShape;
  // Filter flipped in space, in/out channels swapped: [kh,kw,Cin,Cout] → [kh,kw,Cout,Cin].
  const flipped = run('Reverse', { x: filter }, { dims: [0, 1] });
  const filterT = run('Transpose', { x: flipped }, { perm: [0, 1, 3, 2] });
  backend.disposeData(flipped.dataId);
  const dyDilated = zeroDilate(run, backend, dy, [sh, sw]);
  const top = (kh - 1) * dh - info.padInfo.top;
  const left = (kw - 1) * dw - info.padInfo.left;
  const pads = {
    top,
    left,
    bottom: h - dyDilated.shape[1] - top + (kh - 1) * dh,
    right: w - dyDilated.shape[2] - left + (kw - 1) * dw,
  };
  try {
    const dx = convWithSignedPads(run, backend, dyDilated, filterT, pads, [1, 1], [dh, dw]);
    if (dx.shape[1] !== h || dx.shape[2] !== w) {
      backend.disposeData(dx.dataId);
      throw new Error(`Conv2DBackpropInput on wasm: internal shape mismatch [${dx.shape}] vs [${inputShape}]`);
    }
    return dx;
  } finally {
    backend.disposeData(filterT.dataId);
    if (dyDilated !== dy) backend.disposeData(dyDilated.dataId);
  }
}

/** Conv2DBackpropFilter: dW[kh,kw,Cin,Cout] from x[N,H,W,Cin] and dy[N,Hy,Wy,Cout]. */
export function conv2dBackpropFilter(tf: Tf, backend: Backend, x: TensorInfo, dy: TensorInfo, filterShape: number[], attrs: ConvGradAttrs): TensorInfo {
  const run = wasmKernelRunner(tf, backend);
  const info = convInfoFor(tf, 'Conv2DBackpropFilter', x.shape, filterShape, attrs);
  if (dy.shape[0] !== x.shape[0] || dy.shape[1] !== info.outHeight || dy.shape[2] !== info.outWidth || dy.shape[3] !== info.outChannels) {
    throw new Error(`Conv2DBackpropFilter on wasm: dy shape [${dy.shape}] does not match the forward output [${info.outShape}]`);
  }
  const { strideHeight: sh, strideWidth: sw, dilationHeight: dh, dilationWidth: dw } = info;
  const kh = info.filterHeight;
  const kw = info.filterWidth;
  const [, h, w] = x.shape;
  const [, hy, wy] = dy.shape;
  // dW[i,j] = Σ x[i·dh + y·sh − top] · dy[y]: a conv over x with dy as filter, stride = forward
  // dilation, dilation = forward stride; the bottom/right pad makes the output exactly kh×kw.
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const pads = {
    top,
    left,
    bottom: (kh - 1) * dh + (hy - 1) * sh + 1 - h - top,
    right: (kw - 1) * dw + (wy - 1) * sw + 1 - w - left,
  };
  const xT = run('Transpose', { x }, { perm: [3, 1, 2, 0] }); // [Cin,H,W,N]
  const dyT = run('Transpose', { x: dy }, { perm: [1, 2, 0, 3] }); // [Hy,Wy,N,Cout]
  let out: TensorInfo;
  try {
    out = convWithSignedPads(run, backend, xT, dyT, pads, [dh, dw], [sh, sw]); // [Cin,kh,kw,Cout]
  } finally {
    backend.disposeData(xT.dataId);
    backend.disposeData(dyT.dataId);
  }
  if (out.shape[1] !== kh || out.shape[2] !== kw) {
    backend.disposeData(out.dataId);
    throw new Error(`Conv2DBackpropFilter on wasm: internal shape mismatch [${out.shape}] vs [${filterShape}]`);
  }
  const dW = run('Transpose', { x: out }, { perm: [1, 2, 0, 3] });
  backend.disposeData(out.dataId);
  return dW;
}
