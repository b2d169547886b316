// What the wasm backend's convolutions and matrix products run on, decided in this one place: oneDNN where
// it loads (onednn.ts), else OpenBLAS (blas.ts), else the backend's own XNNPACK. PIPE_ONEDNN=off and
// PIPE_BLAS=off turn the native libraries off. The kernels round differently, so `name` enters cache keys
// (backend.ts kernelsOf) and `description` run records and `pipe doctor`.
import { limitBlasThreads, loadBlas, type Blas } from './blas.js';
import { limitOneDnnThreads, loadOneDnn, type OneDnn } from './onednn.js';

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
  if ('onednn' in onednn) return { name: 'onednn', onednn: onednn.onednn, description: `wasm, convolutions on oneDNN ${onednn.onednn.name}` };
  const blas = loadBlas();
  if ('blas' in blas) return { name: 'openblas', blas: blas.blas, description: `wasm, convolutions on OpenBLAS ${blas.blas.name}` };
  return { name: 'xnnpack', description: 'wasm, convolutions on XNNPACK (neither oneDNN nor OpenBLAS loaded)' };
}

/**
 * Holds the native kernels to `threads` threads until the returned function restores them. Data-parallel
 * training calls it in the parent (OpenBLAS's count is process-wide) and in every worker (oneDNN's OpenMP
 * count is per calling thread): the workers are the parallelism, and more threads would only compete.
 */
export function limitNativeThreads(threads: number): () => void {
  const kernels = nativeKernels();
  if (kernels.name === 'onednn') return limitOneDnnThreads(threads);
  if (kernels.name === 'openblas') return limitBlasThreads(threads);
  return () => undefined;
}
