// Types and kernel names shared by the backend loader (backend.ts), the wasm kernels (wasm/) and the native
// libraries (native/). Here, so that the loader imports the kernels and nothing imports the loader back.

export type Tf = typeof import('@tensorflow/tfjs');

/** A tensor as a kernel sees it: a handle to the backend's data, with its shape and dtype. */
export type TensorInfo = { dataId: object; shape: number[]; dtype: string };

/** What our kernels use of the wasm backend. */
export type WasmBackend = {
  disposeData(dataId: object, force?: boolean): boolean;
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Float32Array | Int32Array | Uint8Array;
};

export type KernelArgs = { inputs: Record<string, TensorInfo>; attrs: Record<string, unknown>; backend: WasmBackend };
export type KernelFunc = (args: KernelArgs) => TensorInfo;
/** A kernel with several outputs. */
export type MultiOutputKernelFunc = (args: KernelArgs) => TensorInfo[];

/**
 * x, gamma, beta (channels last; attrs.epsilon) → [y = γ·(x − μ)/√(σ² + ε) + β, stats [2, C]: row 0 the
 * batch's mean μ, row 1 its biased variance σ²].
 */
export const BATCHNORM_TRAINING_KERNEL = 'PipeBatchNormTraining';
/** dy, x, stats and gamma of a BATCHNORM_TRAINING_KERNEL call (attrs.epsilon) → [dx, dγ, dβ]. */
export const BATCHNORM_TRAINING_GRAD_KERNEL = 'PipeBatchNormTrainingGrad';
