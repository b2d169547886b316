// Per-class loss weights: the paper's "class weighting" as an alternative to resampling.
import { PipeError } from '../errors.js';

export type ClassWeightsSpec = 'none' | 'balanced' | Record<string, number>;

/**
 * One weight per class index, or null for none.
 * 'balanced' is scikit-learn's: n_samples / (n_classes · count[c]), computed from the training split's counts;
 * a class absent from training gets weight 0 (it contributes no rows anyway). A map names classes; classes it
 * leaves out keep weight 1.
 */
export function classWeightsFor(spec: ClassWeightsSpec, classes: string[], trainCounts: number[]): number[] | null {
  if (spec === 'none') return null;
  if (spec === 'balanced') {
    const total = trainCounts.reduce((a, b) => a + b, 0);
    const present = trainCounts.filter((c) => c > 0).length;
    return trainCounts.map((count) => (count === 0 ? 0 : total / (present * count)));
  }
  const weights = classes.map(() => 1);
  for (const [name, weight] of Object.entries(spec)) {
    const index = classes.indexOf(name);
    if (index < 0) {
      throw new PipeError(`classWeights names class '${name}', which the dataset does not have`, {
        hint: `classes are: ${classes.join(', ')}`,
      });
    }
    weights[index] = weight;
  }
  return weights;
}
