// Registers the training kernels the stock wasm backend lacks (or runs slowly) so that a conv net
// trains on it: Conv2DBackpropFilter (missing) and Conv2DBackpropInput (a naive loop upstream), both
// rewritten as XNNPACK convolutions (see wasm-conv-grads.ts). Idempotent; call after the wasm backend
// is registered. loadTf('wasm') does this for you.
import type { Tf } from './backend.js';
import { conv2dBackpropFilter, conv2dBackpropInput, type ConvGradAttrs } from './wasm-conv-grads.js';
import { registerBatchNormGrad } from './wasm-batchnorm-grad.js';
import { fastMaxPoolGrad, fastMean, fastSum, fastTile, type KernelFunc } from './wasm-fast-reductions.js';

/** The kernels this module installs on 'wasm', by name. */
export const WASM_TRAINING_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Sum', 'Mean', 'Tile', 'MaxPoolGrad'] as const;

/** Marks our kernel functions so we can tell whether they (and not the stock ones) are registered. */
const MARK = Symbol.for('pipe.wasmTrainingKernel');

/** Replaces (or adds) a wasm kernel; `make` gets the stock kernel to fall back on, if there is one. */
function install(tf: Tf, kernelName: string, make: (stock: KernelFunc) => KernelFunc): void {
  const existing = tf.getKernel(kernelName, 'wasm');
  if (existing && (existing.kernelFunc as unknown as Record<symbol, boolean>)[MARK]) return;
  const stock = (existing?.kernelFunc ??
    (() => {
      throw new Error(`wasm backend has no stock '${kernelName}' kernel`);
    })) as unknown as KernelFunc;
  if (existing) tf.unregisterKernel(kernelName, 'wasm');
  const kernelFunc = make(stock);
  (kernelFunc as unknown as Record<symbol, boolean>)[MARK] = true;
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never });
}

/** Installs the wasm training kernels. Safe to call more than once. */
export function registerWasmTrainingKernels(tf: Tf): void {
  install(tf, 'Conv2DBackpropFilter', () => ({ inputs, attrs, backend }) =>
    conv2dBackpropFilter(tf, backend, inputs.x, inputs.dy, attrs.filterShape as number[], attrs as unknown as ConvGradAttrs),
  );
  install(tf, 'Conv2DBackpropInput', () => ({ inputs, attrs, backend }) =>
    conv2dBackpropInput(tf, backend, inputs.dy, inputs.filter, attrs.inputShape as number[], attrs as unknown as ConvGradAttrs),
  );
  install(tf, 'Sum', fastSum);
  install(tf, 'Mean', fastMean);
  install(tf, 'Tile', fastTile);
  install(tf, 'MaxPoolGrad', fastMaxPoolGrad(tf));
  registerBatchNormGrad(tf);
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
