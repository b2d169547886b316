// The runtime facts a stage declares (`runtime: [...]`) turned into values for its cache key.
import { bf16Unavailable, kernelsOf, tfjsVersion, type BackendName } from '../tf/backend.js';
import type { RuntimeFacts } from './plan.js';

export function runtimeFactsFor(pipeline: { name: string; seed: number; backend: { resolved: BackendName } }): RuntimeFacts {
  const backend = pipeline.backend.resolved;
  // Asked once per plan: which kernels load does not change within a process.
  let kernels: string | undefined;
  let bf16: boolean | undefined;
  return async (instance) => {
    const facts: Record<string, string | number> = {};
    const wants = instance.stage.runtime ?? [];
    if (wants.includes('seed')) facts.seed = pipeline.seed;
    if (wants.includes('tensorflow')) {
      facts.backend = backend;
      facts.tfjs = tfjsVersion();
      kernels ??= (await kernelsOf(backend)).name;
      facts.kernels = kernels;
      // Whether the kernels multiply bf16 natively here: the `precision` of train and evaluate resolves by it
      // (auto, and bf16 that falls back to fp32; resolvePrecision), so a machine with bf16 and one without must
      // not share their entries. Absent where it is false, which leaves the keys of machines without bf16 as
      // they were.
      bf16 ??= (await bf16Unavailable(backend)) === null;
      if (bf16) facts.bf16 = 'native';
    }
    if (wants.includes('pipeline')) {
      facts.pipeline = pipeline.name;
      facts.backend = backend;
    }
    return facts;
  };
}
