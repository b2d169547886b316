// What the wasm backend's convolutions and matrix products run on, decided in this one place: oneDNN where
// it loads (onednn.ts), else OpenBLAS (blas.ts), else the backend's own XNNPACK. PIPE_ONEDNN=off and
// PIPE_BLAS=off turn the native libraries off. The kernels round differently, so `name` enters cache keys
// (backend.ts kernelsOf) and `description` run records and `pipe doctor`.
import { limitBlasThreads, loadBlas, type Blas } from './blas.js';
import { limitOneDnnThreads, loadOneDnn, type OneDnn } from './onednn.js';
import { BATCHNORM_TRAINING_GRAD_KERNEL, BATCHNORM_TRAINING_KERNEL } from '../types.js';

const CONVOLUTIONS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul'] as const;
/**
 * The wasm kernels each native library runs (wasm/register.ts installs them over XNNPACK's and our SIMD
 * ones), and in words for run records. Measured per op by bench/ops.ts (batch 64, the paper CNN's and a
 * VGG-style net's shapes, oneDNN on both cores of an otherwise idle 2-core AVX-512 machine), oneDNN runs
 * MaxPool 3.5–4×, MaxPoolGrad 7.5×, AvgPool 4×, AvgPoolGrad 50×, batch norm in training 2.2–2.8× and its
 * gradient 1.7–2.1× as fast as the kernels it replaces, so it takes them; FusedBatchNorm (inference) only
 * ties (1.00–1.11×), so the SIMD kernel keeps it. The paper CNN's training step agrees (bench:train, medians):
 * 256 images/s with convolutions alone on oneDNN, 284 with pooling as well, 313 with batch norm too.
 * On a busy machine batch norm is the exception: its threads meet at barriers that cost a time slice each
 * when other processes hold the cores (4–8× slower than SIMD per op, and that step at 104 images/s against
 * 136 without it, at load 7).
 */
export const NATIVE_KERNELS = {
  onednn: {
    kernels: [...CONVOLUTIONS, '_FusedMatMul', 'MaxPool', 'MaxPoolGrad', 'AvgPool', 'AvgPoolGrad', BATCHNORM_TRAINING_KERNEL, BATCHNORM_TRAINING_GRAD_KERNEL],
    runs: 'convolutions, matrix products, pooling and batch normalisation in training',
  },
  openblas: { kernels: CONVOLUTIONS, runs: 'stride-1 convolutions and matrix products' },
} as const;

export type NativeKernels =
  | { name: 'onednn'; onednn: OneDnn; description: string }
  | { name: 'openblas'; blas: Blas; description: string }
  | { name: 'xnnpack'; description: string };

let resolved: NativeKernels | undefined;

/** The kernels this thread's wasm backend uses; the same answer on every call. */
export function nativeKernels(): NativeKernels {
  resolved ??= resolve();
  return resolved;
}

/** Why each native library that is not used is not, for `pipe doctor`. */
export function nativeKernelsPassedOver(): string[] {
  const chosen = nativeKernels().name;
  const why: string[] = [];
  if (chosen !== 'onednn') {
    const onednn = loadOneDnn();
    if ('unavailable' in onednn) why.push(`oneDNN: ${onednn.unavailable}`);
  }
  if (chosen === 'xnnpack') {
    const blas = loadBlas();
    if ('unavailable' in blas) why.push(`OpenBLAS: ${blas.unavailable}`);
  }
  return why;
}

function resolve(): NativeKernels {
  const onednn = loadOneDnn();
  if ('onednn' in onednn) return { name: 'onednn', onednn: onednn.onednn, description: `wasm, ${NATIVE_KERNELS.onednn.runs} on oneDNN ${onednn.onednn.name}` };
  const blas = loadBlas();
  if ('blas' in blas) return { name: 'openblas', blas: blas.blas, description: `wasm, ${NATIVE_KERNELS.openblas.runs} on OpenBLAS ${blas.blas.name}` };
  return { name: 'xnnpack', description: 'wasm, convolutions on XNNPACK (neither oneDNN nor OpenBLAS loaded)' };
}

/**
 * Holds the native kernels to `threads` threads until the returned function restores them. Data-parallel
 * training calls it in the training thread (OpenBLAS's count is process-wide) and in every replica's thread
 * (oneDNN's OpenMP count is per calling thread): the replicas are the parallelism, and more threads would only compete.
 */
export function limitNativeThreads(threads: number): () => void {
  const kernels = nativeKernels();
  if (kernels.name === 'onednn') return limitOneDnnThreads(threads);
  if (kernels.name === 'openblas') return limitBlasThreads(threads);
  return () => undefined;
}
