// Registers the training kernels the stock wasm backend lacks (or runs slowly) so that a conv net
// trains on it: Conv2DBackpropFilter (missing) and Conv2DBackpropInput (a naive loop upstream), both
// rewritten as XNNPACK convolutions (see wasm/conv-grads.ts), and SIMD kernels for the reductions, pooling's
// gradient, batch normalisation, Adam and the elementwise ops around them. Then, where a native library
// loads (native/kernels.ts decides which), the kernels it runs faster replace those, each keeping the one it
// replaces as its fallback (NATIVE_KERNELS lists which): on oneDNN every convolution, its gradients,
// BatchMatMul, dense layers' _FusedMatMul, pooling and batch norm in training (wasm/onednn-kernels.ts); on
// OpenBLAS stride-1 convolutions, their gradients and BatchMatMul as its GEMMs (wasm/blas-kernels.ts).
// Idempotent; call after the wasm backend is registered. loadTf('wasm') does this.
import { BATCHNORM_TRAINING_GRAD_KERNEL, BATCHNORM_TRAINING_KERNEL, type KernelFunc, type MultiOutputKernelFunc, type Tf } from '../types.js';
import { conv2dBackpropFilter, conv2dBackpropInput, type ConvGradAttrs } from './conv-grads.js';
import { registerBatchNormGrad } from './batchnorm-grad.js';
import { installTrainingBatchNorm } from './batchnorm-training.js';
import { fastFusedBatchNorm, registerChannelKernels } from './channel-kernels.js';
import { fastAdd, fastRelu, registerReluGrad } from './elementwise.js';
import { installFusedAdam } from './adam.js';
import { fastMaxPoolGrad, fastMean, fastSum, fastTile } from './fast-reductions.js';
import { NATIVE_KERNELS, nativeKernels, type NativeKernels } from '../native/kernels.js';
import { blasBatchMatMul, blasConv2D, blasFusedConv2D, blasConv2DBackpropFilter, blasConv2DBackpropInput } from './blas-kernels.js';
import {
  onednnAvgPool,
  onednnAvgPoolGrad,
  onednnMatMul,
  onednnBatchNormTraining,
  onednnBatchNormTrainingGrad,
  onednnConv2D,
  onednnConv2DBackpropFilter,
  onednnConv2DBackpropInput,
  onednnFusedBatchNorm,
  onednnFusedConv2D,
  onednnMaxPool,
  onednnMaxPoolGrad,
} from './onednn-kernels.js';

/** The kernels this module installs on 'wasm', by name. */
export const WASM_TRAINING_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Sum', 'Mean', 'Tile', 'MaxPoolGrad', 'FusedBatchNorm', 'Identity', 'Add', 'Relu'] as const;

/** Marks our kernel functions so we can tell whether they (and not the stock ones) are registered. */
const MARK = Symbol.for('pipe.wasmTrainingKernel');
/** Marks the ones that run on a native library. */
const NATIVE_MARK = Symbol.for('pipe.wasmNativeKernel');

type Marked = Record<symbol, boolean>;

/**
 * Replaces (or adds) a wasm kernel; `make` gets the kernel registered now (the stock one, or ours that a
 * native one goes over) to fall back on.
 */
function install(tf: Tf, kernelName: string, make: (current: KernelFunc) => KernelFunc, native = false): void {
  const existing = tf.getKernel(kernelName, 'wasm');
  const marked = existing?.kernelFunc as unknown as Marked | undefined;
  if (marked?.[native ? NATIVE_MARK : MARK]) return;
  const current = (existing?.kernelFunc ??
    (() => {
      throw new Error(`wasm backend has no stock '${kernelName}' kernel`);
    })) as unknown as KernelFunc;
  if (existing) tf.unregisterKernel(kernelName, 'wasm');
  const kernelFunc = make(current);
  (kernelFunc as unknown as Marked)[MARK] = true;
  if (native) (kernelFunc as unknown as Marked)[NATIVE_MARK] = true;
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never });
}

type Maker = (current: KernelFunc) => KernelFunc;
/** A kernel with several outputs, installed as tfjs takes any kernel. */
const multi = (make: (current: MultiOutputKernelFunc) => MultiOutputKernelFunc): Maker => make as unknown as Maker;

/** How each native library's kernels are made, by name (NATIVE_KERNELS says which are installed). */
function nativeMakers(tf: Tf, found: NativeKernels): Record<string, Maker> {
  if (found.name === 'onednn') {
    const { onednn } = found;
    return {
      Conv2D: (current) => onednnConv2D(tf, onednn, current),
      FusedConv2D: (current) => onednnFusedConv2D(tf, onednn, current),
      BatchMatMul: (current) => onednnMatMul(onednn, current),
      _FusedMatMul: (current) => onednnMatMul(onednn, current),
      Conv2DBackpropFilter: (current) => onednnConv2DBackpropFilter(tf, onednn, current),
      Conv2DBackpropInput: (current) => onednnConv2DBackpropInput(tf, onednn, current),
      MaxPool: (current) => onednnMaxPool(tf, onednn, current),
      MaxPoolGrad: (current) => onednnMaxPoolGrad(tf, onednn, current),
      AvgPool: (current) => onednnAvgPool(tf, onednn, current),
      AvgPoolGrad: (current) => onednnAvgPoolGrad(tf, onednn, current),
      FusedBatchNorm: (current) => onednnFusedBatchNorm(onednn, current),
      [BATCHNORM_TRAINING_KERNEL]: multi((current) => onednnBatchNormTraining(onednn, current)),
      [BATCHNORM_TRAINING_GRAD_KERNEL]: multi((current) => onednnBatchNormTrainingGrad(onednn, current)),
    };
  }
  if (found.name === 'openblas') {
    const { blas } = found;
    return {
      Conv2D: (current) => blasConv2D(tf, blas, current),
      FusedConv2D: (current) => blasFusedConv2D(tf, blas, current),
      BatchMatMul: (current) => blasBatchMatMul(blas, current),
      Conv2DBackpropFilter: (current) => blasConv2DBackpropFilter(tf, blas, current),
      Conv2DBackpropInput: (current) => blasConv2DBackpropInput(tf, blas, current),
    };
  }
  return {};
}

/** Installs the wasm training kernels. Safe to call more than once. */
export function registerWasmTrainingKernels(tf: Tf): void {
  install(tf, 'Conv2DBackpropFilter', () => ({ inputs, attrs, backend }) =>
    conv2dBackpropFilter(tf, backend, inputs.x, inputs.dy, attrs.filterShape as number[], attrs as unknown as ConvGradAttrs));
  install(tf, 'Conv2DBackpropInput', () => ({ inputs, attrs, backend }) =>
    conv2dBackpropInput(tf, backend, inputs.dy, inputs.filter, attrs.inputShape as number[], attrs as unknown as ConvGradAttrs));
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
  const found = nativeKernels();
  if (found.name === 'xnnpack') return;
  const makers = nativeMakers(tf, found);
  for (const name of NATIVE_KERNELS[found.name].kernels) install(tf, name, makers[name], true);
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
  const found = nativeKernels().name;
  const names: readonly string[] = found === 'xnnpack' ? [] : NATIVE_KERNELS[found].kernels;
  return names.filter((name) => {
    const k = tf.getKernel(name, 'wasm');
    return Boolean(k && (k.kernelFunc as unknown as Record<symbol, boolean>)[NATIVE_MARK]);
  });
}
