// What the wasm backend's convolutions and matrix products run on, decided in this one place: oneDNN where
// it loads (onednn.ts), else OpenBLAS (blas.ts), else the backend's own XNNPACK. PIPE_ONEDNN=off and
// PIPE_BLAS=off turn the native libraries off. The kernels round differently, so `name` enters cache keys
// (backend.ts kernelsOf) and `description` run records and `pipe doctor`.
import { limitBlasThreads, loadBlas, type Blas } from './blas.js';
import { limitOneDnnThreads, loadOneDnn, type OneDnn } from './onednn.js';

const CONVOLUTIONS = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'BatchMatMul'] as const;
/**
 * The wasm kernels each native library runs (wasm-kernels.ts installs them over XNNPACK's and our SIMD
 * ones), and in words for run records. Measured per op by bench/ops.ts (batch 64, the paper CNN's and a
 * VGG-style net's shapes, oneDNN on both cores of a 2-core AVX-512 machine), oneDNN pools 1.5–1.7× (MaxPool),
 * 4× (MaxPoolGrad), 2.5–3× (AvgPool) and 32× (AvgPoolGrad) as fast as the kernels it replaces, so it takes
 * them. Its batch normalisation (wasm-onednn-kernels.ts has the kernels) took 4–8× as long as the SIMD ones in
 * training and 2× for inference: its threads meet at barriers, which cost whole time slices on a busy
 * machine, and on one thread it is about even. The paper CNN's training step agrees (bench:train):
 * 116 images/s with convolutions alone on oneDNN, 136 with pooling, 104 with batch norm as well.
 */
export const NATIVE_KERNELS = {
  onednn: {
    kernels: [...CONVOLUTIONS, 'MaxPool', 'MaxPoolGrad', 'AvgPool', 'AvgPoolGrad'],
    runs: 'convolutions, matrix products and pooling',
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
 * training calls it in the parent (OpenBLAS's count is process-wide) and in every worker (oneDNN's OpenMP
 * count is per calling thread): the workers are the parallelism, and more threads would only compete.
 */
export function limitNativeThreads(threads: number): () => void {
  const kernels = nativeKernels();
  if (kernels.name === 'onednn') return limitOneDnnThreads(threads);
  if (kernels.name === 'openblas') return limitBlasThreads(threads);
  return () => undefined;
}
