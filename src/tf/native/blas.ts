// Native single-precision GEMM from OpenBLAS, called through the koffi FFI, for the wasm backend's
// convolution and matrix-multiply kernels (see wasm/blas-kernels.ts). WebAssembly SIMD is 128 bits
// wide; OpenBLAS runs the CPU's own vector units (AVX2, AVX-512), several times faster per core.
//
// Optional on both ends: koffi ships prebuilt binaries for common platforms, and OpenBLAS is the system
// library (Debian/Ubuntu: apt-get install libopenblas0-pthread; macOS: brew install openblas). When either
// is missing, or PIPE_BLAS=off, loadBlas() says why and the wasm backend keeps its XNNPACK kernels.
// PIPE_BLAS=<path> picks a library file.
//
// Pointers are plain addresses into the wasm heap (see ffi.ts, wasm/heap.ts).
import { limitThreads, loadLibrary } from './ffi.js';

export interface Blas {
  /** The library loaded and the kernel family OpenBLAS picked for this CPU, e.g. "libopenblas.so.0 (SkylakeX)". */
  readonly name: string;
  /** Row-major C = alpha·op(A)·op(B) + beta·C, op(X) = X or Xᵀ; A, B, C are addresses (see nativeAddress). */
  sgemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: bigint, lda: number, b: bigint, ldb: number, beta: number, c: bigint, ldc: number): void;
  /** Threads OpenBLAS uses per call; process-wide. */
  setThreads(n: number): void;
  threads(): number;
}

export type BlasLoad = { blas: Blas } | { unavailable: string };

const LIBRARY_NAMES: Record<string, string[]> = {
  linux: ['libopenblas.so.0', 'libopenblas.so'],
  darwin: ['libopenblas.dylib', '/opt/homebrew/opt/openblas/lib/libopenblas.dylib', '/usr/local/opt/openblas/lib/libopenblas.dylib'],
  win32: ['libopenblas.dll', 'openblas.dll'],
};

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

let loaded: BlasLoad | undefined;

/** Loads OpenBLAS once per thread; later calls return the same result. */
export function loadBlas(): BlasLoad {
  loaded ??= tryLoad();
  return loaded;
}

/**
 * Limits OpenBLAS to `threads` per call until the returned function restores the previous count. Data-
 * parallel training uses it: its replica threads already fill the cores, and OpenBLAS's own threads would
 * only compete with them (they also spin for a while after each call). A no-op when OpenBLAS is not loaded.
 */
export function limitBlasThreads(threads: number): () => void {
  return limitThreads(loaded && 'blas' in loaded ? loaded.blas : undefined, threads);
}

function tryLoad(): BlasLoad {
  const hint =
    process.platform === 'linux' ? 'apt-get install libopenblas0-pthread' : process.platform === 'darwin' ? 'brew install openblas' : 'install OpenBLAS';
  const found = loadLibrary({ label: 'OpenBLAS', variable: 'PIPE_BLAS', files: LIBRARY_NAMES, hint, notIt: 'is not OpenBLAS' }, (_koffi, lib, file): Blas => {
    const gemm = lib.func('cblas_sgemm', 'void', ['int', 'int', 'int', 'int', 'int', 'int', 'float', 'intptr_t', 'int', 'intptr_t', 'int', 'float', 'intptr_t', 'int']);
    const setThreads = lib.func('openblas_set_num_threads', 'void', ['int']);
    const getThreads = lib.func('openblas_get_num_threads', 'int', []);
    const coreName = lib.func('openblas_get_corename', 'const char *', []);
    return {
      name: `${file} (${String(coreName())})`,
      sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
        if (m === 0 || n === 0) return;
        gemm(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      },
      setThreads: (t) => setThreads(Math.max(1, Math.floor(t))),
      threads: () => getThreads() as number,
    };
  });
  return 'library' in found ? { blas: found.library } : found;
}
