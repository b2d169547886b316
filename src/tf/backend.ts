// Which TensorFlow.js backend a run uses, chosen lazily: nothing here loads tfjs until loadTf() is called.
import { createRequire } from 'node:module';
import type { Tf } from './types.js';
import type { OneDnnPrecision } from './native/onednn.js';
import { loadTfjs, loadTfjsNative, loadTfjsWasm } from '../packages.js';

// Callers that load tfjs name its type from here too.
export type { Tf } from './types.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export type BackendRequest = 'auto' | BackendName;

const require = createRequire(import.meta.url);

/** Packages that provide the native 'tensorflow' backend, in order of preference. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

function installed(pkg: string): boolean {
  try {
    require.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** The native package that would provide 'tensorflow', or null. Cheap: resolves, does not load. */
export function nativePackage(): string | null {
  return NATIVE_PACKAGES.find(installed) ?? null;
}

/**
 * The backend a request resolves to, decided without loading tfjs. The one place this is decided: a run
 * resolves once (src/exec/open-pipeline.ts) and hands the name to cache keys, records and stages.
 */
export function resolveBackend(request: BackendRequest): BackendName {
  if (request !== 'auto') return request;
  return nativePackage() ? 'tensorflow' : 'wasm';
}

/** The tfjs version whose numerics a model stage depends on. */
export function tfjsVersion(): string {
  return (require('@tensorflow/tfjs-core/package.json') as { version: string }).version;
}

/**
 * What a backend's convolutions and matrix products run on: on wasm oneDNN, OpenBLAS or XNNPACK, whichever
 * loads first (native/kernels.ts). They round differently, so model stages hash `name` into their cache keys.
 * Loads no tfjs.
 */
export async function kernelsOf(backend: BackendName): Promise<{ name: string; description: string }> {
  if (backend !== 'wasm') return { name: backend, description: backend };
  const { name, description } = (await import('./native/kernels.js')).nativeKernels();
  return { name, description };
}

/**
 * Replicas that share each batch when a train stage says `workers: auto`. Native TensorFlow and oneDNN spread
 * one step over every core themselves, and one replica with the whole batch beats two with half a batch each
 * (oneDNN: a half batch costs about 18% more CPU per image, plus copying weights and gradients every step).
 * OpenBLAS and XNNPACK run best one core per replica, so two share the batch. Kernels enter cache keys, so the
 * answer is part of them too.
 */
export async function defaultReplicas(backend: BackendName): Promise<number> {
  if (backend === 'tensorflow') return 1;
  return (await kernelsOf(backend)).name === 'onednn' ? 1 : 2;
}

/** What convolutions and matrix products multiply in: float32, or bfloat16 inputs with float32 accumulation. */
export type Precision = OneDnnPrecision;

/** What a stage asks its convolutions and matrix products to multiply in. */
export type PrecisionRequest = Precision | 'auto';

/**
 * Why this backend's kernels cannot run bf16 natively here, or null when they can: only oneDNN on wasm, on a
 * CPU whose oneDNN instruction set is avx512_core_bf16 or above (as the library reports it). Loads no tfjs.
 */
export async function bf16Unavailable(backend: BackendName): Promise<string | null> {
  if (backend !== 'wasm') return `the ${backend} backend has no bf16 kernels of ours`;
  const kernels = await kernelsOf(backend);
  if (kernels.name !== 'onednn') return `the wasm backend's convolutions run on ${kernels.name}, not oneDNN`;
  const bf16 = (await import('./native/onednn.js')).oneDnnBf16();
  return bf16.available ? null : bf16.reason;
}

/**
 * The precision a request resolves to on this backend and machine: auto is bf16 where bf16Unavailable says
 * nothing against it, else fp32; bf16 where it is unavailable runs fp32, with a warning that says why and what
 * (`work`: training, inference) runs in fp32 instead.
 */
export async function resolvePrecision(
  backend: BackendName,
  request: PrecisionRequest,
  work: 'training' | 'inference' = 'training',
): Promise<{ precision: Precision; warning?: string }> {
  if (request === 'fp32') return { precision: 'fp32' };
  const why = await bf16Unavailable(backend);
  if (why === null) return { precision: 'bf16' };
  return { precision: 'fp32', ...(request === 'bf16' ? { warning: `precision bf16 is not available (${why}): ${work} runs in fp32` } : {}) };
}

/**
 * The precision inference with a model runs in (evaluate, `pipe predict`): auto is "as the model was trained",
 * bf16 where it was trained in bf16 (`trained`, from its model folder; unknown counts as fp32) and this backend
 * runs bf16 natively, else fp32; fp32 and bf16 as resolvePrecision resolves them. Inputs to the result: the
 * request, the model and bf16Unavailable, so a cache key with the request, the model's key and the `bf16`
 * runtime fact (src/plan/runtime-facts.ts) determines it.
 */
export async function resolveInferencePrecision(
  backend: BackendName,
  request: PrecisionRequest,
  trained: Precision | undefined,
): Promise<{ precision: Precision; warning?: string }> {
  return resolvePrecision(backend, request === 'auto' && trained !== 'bf16' ? 'fp32' : request, 'inference');
}

export interface LoadedTf {
  tf: Tf;
  backend: BackendName;
  /** What runs the heavy kernels, for run records: e.g. "wasm, convolutions on oneDNN libdnnl.so.2 (oneDNN 2.6.3, avx512_core)". */
  kernels: string;
}

/** The load of the active backend: settled, or still in progress. */
let current: { backend: BackendName; loading: Promise<LoadedTf> } | null = null;

/**
 * Load tfjs with this backend (resolved already: see resolveBackend) and make it the active one. Callers that
 * arrive while a load is in progress share it: two model stages that start at the same moment would otherwise
 * both initialise the backend, and the second finds it half-made. Another backend is loaded after the load in
 * progress has settled; a failed load is forgotten, so the next call tries again.
 */
export function loadTf(backend: BackendName): Promise<LoadedTf> {
  if (current?.backend === backend) return current.loading;
  const previous = current?.loading.catch(() => undefined);
  const loading = (async () => {
    await previous;
    return load(backend);
  })();
  current = { backend, loading };
  loading.catch(() => {
    if (current?.loading === loading) current = null;
  });
  return loading;
}

async function load(backend: BackendName): Promise<LoadedTf> {
  let tf: Tf;
  if (backend === 'tensorflow') {
    const pkg = nativePackage();
    if (!pkg) {
      throw new Error(
        "backend 'tensorflow' needs @tensorflow/tfjs-node or @tensorflow/tfjs-node-gpu, and neither is installed; " +
          "use backend: auto (or wasm), or install one of them (run 'pipe doctor' to see what is available)",
      );
    }
    tf = loadTfjsNative(pkg);
  } else {
    tf = loadTfjs();
    if (backend === 'wasm') loadTfjsWasm();
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend '${backend}' failed to initialise`);
  await tf.ready();
  // Stock wasm cannot train conv nets (no Conv2DBackpropFilter); install our kernels (oneDNN, OpenBLAS or XNNPACK).
  if (backend === 'wasm') (await import('./wasm/register.js')).registerWasmTrainingKernels(tf);
  return { tf, backend, kernels: (await kernelsOf(backend)).description };
}
