// Registers the training kernels the stock wasm backend lacks (or runs slowly) so that a conv net
// trains on it: Conv2DBackpropFilter (missing) and Conv2DBackpropInput (a naive loop upstream), both
// rewritten as XNNPACK convolutions (see wasm-conv-grads.ts). Idempotent; call after the wasm backend
// is registered. loadTf('wasm') does this for you.
import type { Tf } from './backend.js';
import { conv2dBackpropFilter, conv2dBackpropInput, type ConvGradAttrs } from './wasm-conv-grads.js';

type TensorInfo = { dataId: object; shape: number[]; dtype: string };
type Backend = { disposeData(dataId: object, force?: boolean): boolean };
type KernelArgs = { inputs: Record<string, TensorInfo>; attrs: Record<string, unknown>; backend: Backend };

/** The kernels this module installs on 'wasm', by name. */
export const WASM_TRAINING_KERNELS = ['Conv2DBackpropFilter', 'Conv2DBackpropInput'] as const;

/** Marks our kernel functions so we can tell whether they (and not the stock ones) are registered. */
const MARK = Symbol.for('pipe.wasmTrainingKernel');

function install(tf: Tf, kernelName: string, kernelFunc: (args: KernelArgs) => TensorInfo): void {
  const existing = tf.getKernel(kernelName, 'wasm');
  if (existing && (existing.kernelFunc as unknown as Record<symbol, boolean>)[MARK]) return;
  if (existing) tf.unregisterKernel(kernelName, 'wasm');
  (kernelFunc as unknown as Record<symbol, boolean>)[MARK] = true;
  tf.registerKernel({ kernelName, backendName: 'wasm', kernelFunc: kernelFunc as never });
}

/** Installs the wasm training kernels. Safe to call more than once. */
export function registerWasmTrainingKernels(tf: Tf): void {
  install(tf, 'Conv2DBackpropFilter', ({ inputs, attrs, backend }) =>
    conv2dBackpropFilter(tf, backend, inputs.x, inputs.dy, attrs.filterShape as number[], attrs as unknown as ConvGradAttrs),
  );
  install(tf, 'Conv2DBackpropInput', ({ inputs, attrs, backend }) =>
    conv2dBackpropInput(tf, backend, inputs.dy, inputs.filter, attrs.inputShape as number[], attrs as unknown as ConvGradAttrs),
  );
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
