// Registers the training kernels the stock wasm backend lacks (or runs slowly) so that a conv net
// trains on it: Conv2DBackpropFilter (missing) and Conv2DBackpropInput (a naive loop upstream), both
// rewritten as XNNPACK convolutions (see wasm-conv-grads.ts). Where oneDNN loads, every convolution, its
// gradients and BatchMatMul run on it (wasm-onednn-kernels.ts); else where OpenBLAS loads, stride-1
// convolutions, their gradients and BatchMatMul run as its GEMMs (wasm-blas-kernels.ts), the rest still as
// above (native-kernels.ts decides). Idempotent; call after the wasm backend is registered. loadTf('wasm')
// does this.
import type { Tf } from './backend.js';
import { conv2dBackpropFilter, conv2dBackpropInput, type ConvGradAttrs } from './wasm-conv-grads.js';
import { registerBatchNormGrad } from './wasm-batchnorm-grad.js';
import { installTrainingBatchNorm } from './wasm-batchnorm-training.js';
import { fastFusedBatchNorm, registerChannelKernels } from './wasm-channel-kernels.js';
import { fastAdd, fastRelu, registerReluGrad } from './wasm-elementwise.js';
import { installFusedAdam } from './wasm-adam.js';
import { fastMaxPoolGrad, fastMean, fastSum, fastTile, type KernelFunc } from './wasm-fast-reductions.js';
import { nativeKernels } from './native-kernels.js';
import { blasBatchMatMul, blasConv2D, blasFusedConv2D, blasConv2DBackpropFilter, blasConv2DBackpropInput } from './wasm-blas-kernels.js';
import { onednnBatchMatMul, onednnConv2D, onednnConv2DBackpropFilter, onednnConv2DBackpropInput, onednnFusedConv2D } from './wasm-onednn-kernels.js';

/** The kernels this module installs on 'wasm', by name. */
export const WASM_TRAINING_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Sum', 'Mean', 'Tile', 'MaxPoolGrad', 'FusedBatchNorm', 'Identity', 'Add', 'Relu'] as const;
/** The kernels that run on the native library (oneDNN or OpenBLAS) when one loads. */
export const WASM_NATIVE_KERNELS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul'] as const;

/** Marks our kernel functions so we can tell whether they (and not the stock ones) are registered. */
const MARK = Symbol.for('pipe.wasmTrainingKernel');
/** Marks the ones that run on a native library. */
const NATIVE_MARK = Symbol.for('pipe.wasmNativeKernel');

/** Replaces (or adds) a wasm kernel; `make` gets the stock kernel to fall back on, if there is one. */
function install(tf: Tf, kernelName: string, make: (stock: KernelFunc) => KernelFunc, native = false): void {
  const existing = tf.getKernel(kernelName, 'wasm');
  if (existing && (existing.kernelFunc as unknown as Record<symbol, boolean>)[MARK]) return;
  const stock = (existing?.kernelFunc ??
    (() => {
      throw new Error(`wasm backend has no stock '${kernelName}' kernel`);
    })) as unknown as KernelFunc;
  if (existing) tf.unregisterKernel(kernelName, 'wasm');
  const kernelFunc = make(stock);
  (kernelFunc as unknown as Record<symbol, boolean>)[MARK] = true;
  if (native) (kernelFunc as unknown as Record<symbol, boolean>)[NATIVE_MARK] = true;
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never });
}

/** Installs the wasm training kernels. Safe to call more than once. */
export function registerWasmTrainingKernels(tf: Tf): void {
  const xnnpackFilterGrad: KernelFunc = ({ inputs, attrs, backend }) =>
    conv2dBackpropFilter(tf, backend, inputs.x, inputs.dy, attrs.filterShape as number[], attrs as unknown as ConvGradAttrs);
  const xnnpackInputGrad: KernelFunc = ({ inputs, attrs, backend }) =>
    conv2dBackpropInput(tf, backend, inputs.dy, inputs.filter, attrs.inputShape as number[], attrs as unknown as ConvGradAttrs);
  const found = nativeKernels();
  if (found.name === 'onednn') {
    const { onednn } = found;
    install(tf, 'Conv2D', (stock) => onednnConv2D(tf, onednn, stock), true);
    install(tf, 'FusedConv2D', (stock) => onednnFusedConv2D(tf, onednn, stock), true);
    install(tf, 'BatchMatMul', (stock) => onednnBatchMatMul(onednn, stock), true);
    install(tf, 'Conv2DBackpropFilter', () => onednnConv2DBackpropFilter(tf, onednn, xnnpackFilterGrad), true);
    install(tf, 'Conv2DBackpropInput', () => onednnConv2DBackpropInput(tf, onednn, xnnpackInputGrad), true);
  } else if (found.name === 'openblas') {
    const { blas } = found;
    install(tf, 'Conv2D', (stock) => blasConv2D(tf, blas, stock), true);
    install(tf, 'FusedConv2D', (stock) => blasFusedConv2D(tf, blas, stock), true);
    install(tf, 'BatchMatMul', (stock) => blasBatchMatMul(blas, stock), true);
    install(tf, 'Conv2DBackpropFilter', () => blasConv2DBackpropFilter(tf, blas, xnnpackFilterGrad), true);
    install(tf, 'Conv2DBackpropInput', () => blasConv2DBackpropInput(tf, blas, xnnpackInputGrad), true);
  } else {
    install(tf, 'Conv2DBackpropFilter', () => xnnpackFilterGrad);
    install(tf, 'Conv2DBackpropInput', () => xnnpackInputGrad);
  }
  install(tf, 'Sum', fastSum);
  install(tf, 'Mean', fastMean);
  install(tf, 'Tile', fastTile);
  install(tf, 'MaxPoolGrad', fastMaxPoolGrad(tf));
  registerChannelKernels(tf);
  registerBatchNormGrad(tf);
  installTrainingBatchNorm(tf);
  install(tf, 'FusedBatchNorm', fastFusedBatchNorm);
  install(tf, 'Add', fastAdd);
  install(tf, 'Relu', fastRelu);
  registerReluGrad(tf);
  installFusedAdam(tf);
  // The stock Identity copies the data; tensors are immutable, so share it as the cpu backend (and wasm's own
  // Reshape) do. The tape clones every tensor it saves for the backward pass: ~100 full copies per step.
  install(tf, 'Identity', (stock) => (args) => {
    const { x } = args.inputs;
    if (x.dtype === 'string') return stock(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}

/** Which of our training kernels are currently registered on 'wasm' (for `pipe doctor`). */
export function wasmTrainingKernelsRegistered(tf: Tf): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  for (const name of WASM_TRAINING_KERNELS) {
    const k = tf.getKernel(name, 'wasm');
    out[name] = Boolean(k && (k.kernelFunc as unknown as Record<symbol, boolean>)[MARK]);
  }
  return out;
}

/** Which kernels currently run on the native library (for `pipe doctor`, run records and tests). */
export function wasmNativeKernelsRegistered(tf: Tf): string[] {
  return WASM_NATIVE_KERNELS.filter((name) => {
    const k = tf.getKernel(name, 'wasm');
    return Boolean(k && (k.kernelFunc as unknown as Record<symbol, boolean>)[NATIVE_MARK]);
  });
}
