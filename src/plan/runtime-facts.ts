// The runtime facts a stage declares (`runtime: [...]`) turned into values for its cache key.
import { kernelsOf, tfjsVersion, type BackendName } from '../tf/backend.js';
import type { RuntimeFacts } from './plan.js';

export function runtimeFactsFor(pipeline: { name: string; seed: number; backend: { resolved: BackendName } }): RuntimeFacts {
  const backend = pipeline.backend.resolved;
  // Asked once per plan: which kernels load does not change within a process.
  let kernels: string | undefined;
  return async (instance) => {
    const facts: Record<string, string | number> = {};
    const wants = instance.stage.runtime ?? [];
    if (wants.includes('seed')) facts.seed = pipeline.seed;
    if (wants.includes('tensorflow')) {
      facts.backend = backend;
      facts.tfjs = tfjsVersion();
      kernels ??= (await kernelsOf(backend)).name;
      facts.kernels = kernels;
    }
    if (wants.includes('pipeline')) {
      facts.pipeline = pipeline.name;
      facts.backend = backend;
    }
    return facts;
  };
}
