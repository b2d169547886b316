// The runtime facts a stage declares (`runtime: [...]`) turned into values for its cache key.
import { resolveBackend, tfjsVersion, type BackendRequest } from '../tf/backend.js';
import type { RuntimeFacts } from './plan.js';

export function runtimeFactsFor(seed: number, backend: string): RuntimeFacts {
  return (instance) => {
    const facts: Record<string, string | number> = {};
    const wants = instance.stage.runtime ?? [];
    if (wants.includes('seed')) facts.seed = seed;
    if (wants.includes('tensorflow')) {
      facts.backend = resolveBackend(backend as BackendRequest);
      facts.tfjs = tfjsVersion();
    }
    return facts;
  };
}
