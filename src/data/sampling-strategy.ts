// How many rows each class should have after random over- or under-sampling, following the `sampling_strategy`
// rules of imbalanced-learn's RandomOverSampler / RandomUnderSampler, so that a pipeline ported from Python
// resamples to the same counts.
//
// Named strategies select which classes are resampled; a selected class reaches the majority count (over-sampling)
// or the minority count (under-sampling):
//   'minority' (over only) · 'majority' (under only) · 'not minority' · 'not majority' · 'all'
//   'auto' = 'not majority' for over-sampling, 'not minority' for under-sampling (imbalanced-learn's meaning).
// A number is the desired ratio minority/majority after resampling. imbalanced-learn accepts it for binary
// problems only; here it generalises to any number of classes: when over-sampling, every class below
// ratio × majority count is raised to floor(ratio × majority); when under-sampling, every class above
// minority / ratio is lowered to floor(minority / ratio). Classes already past the target are left alone.
// An object maps class names to the wanted count; classes it does not name keep their count.
// Classes with no rows are never resampled (there is nothing to copy) and do not count as minority.
import { PipeError } from '../errors.js';

export type NamedStrategy = 'auto' | 'all' | 'minority' | 'majority' | 'not minority' | 'not majority';
export type SamplingStrategy = NamedStrategy | number | Record<string, number>;
export type SamplerKind = 'over' | 'under';

export const OVER_STRATEGIES: NamedStrategy[] = ['auto', 'all', 'minority', 'not minority', 'not majority'];
export const UNDER_STRATEGIES: NamedStrategy[] = ['auto', 'all', 'majority', 'not minority', 'not majority'];

/** JSON Schema for a `strategy` param of the given sampler kind. */
export function strategySchema(kind: SamplerKind): Record<string, unknown> {
  const named = kind === 'over' ? OVER_STRATEGIES : UNDER_STRATEGIES;
  const direction = kind === 'over' ? 'raised to the majority' : 'lowered to the minority';
  return {
    description:
      `Which classes to resample, as imbalanced-learn's sampling_strategy: one of ${named.map((s) => `'${s}'`).join(', ')} ` +
      `(selected classes are ${direction} count; 'auto' = '${kind === 'over' ? 'not majority' : 'not minority'}'), ` +
      'a number (wanted minority/majority ratio after resampling), or an object {className: wanted row count}.',
    default: 'auto',
    oneOf: [
      { type: 'string', enum: named },
      { type: 'number', exclusiveMinimum: 0, maximum: 1 },
      { type: 'object', additionalProperties: { type: 'integer', minimum: 0 }, minProperties: 1 },
    ],
  };
}

function firstIndexOf(counts: number[], pick: (a: number, b: number) => boolean): number {
  let best = -1;
  for (let k = 0; k < counts.length; k++) {
    if (counts[k] === 0) continue;
    if (best < 0 || pick(counts[k], counts[best])) best = k;
  }
  return best;
}

/**
 * Wanted row count per class index. `counts[k]` is the current count of class k (names in `classes`);
 * `where` names the data being resampled, for error messages.
 */
export function targetCounts(
  counts: number[],
  classes: string[],
  strategy: SamplingStrategy,
  kind: SamplerKind,
  where = 'data',
): number[] {
  const present = counts.map((n) => n > 0);
  const majority = firstIndexOf(counts, (a, b) => a > b);
  const minority = firstIndexOf(counts, (a, b) => a < b);
  const out = counts.slice();
  if (majority < 0) return out;
  const limit = kind === 'over' ? counts[majority] : counts[minority];

  if (typeof strategy === 'string') {
    const allowed = kind === 'over' ? OVER_STRATEGIES : UNDER_STRATEGIES;
    if (!allowed.includes(strategy)) {
      throw new PipeError(`strategy '${strategy}' cannot be used for ${kind}-sampling`, {
        hint: `use one of ${allowed.map((s) => `'${s}'`).join(', ')}, a ratio, or {className: count}`,
      });
    }
    const named = strategy === 'auto' ? (kind === 'over' ? 'not majority' : 'not minority') : strategy;
    for (let k = 0; k < counts.length; k++) {
      if (!present[k]) continue;
      const selected =
        named === 'all' ||
        (named === 'minority' && k === minority) ||
        (named === 'majority' && k === majority) ||
        (named === 'not minority' && k !== minority) ||
        (named === 'not majority' && k !== majority);
      if (selected) out[k] = limit;
    }
    return out;
  }

  if (typeof strategy === 'number') {
    if (!(strategy > 0 && strategy <= 1)) {
      throw new PipeError(`strategy ratio ${strategy} is outside (0, 1]`, {
        hint: 'a ratio is the wanted minority/majority count after resampling, e.g. 0.5',
      });
    }
    for (let k = 0; k < counts.length; k++) {
      if (!present[k]) continue;
      if (kind === 'over') out[k] = Math.max(counts[k], Math.floor(strategy * counts[majority]));
      else out[k] = Math.min(counts[k], Math.floor(counts[minority] / strategy));
    }
    return out;
  }

  for (const [name, wanted] of Object.entries(strategy)) {
    const k = classes.indexOf(name);
    if (k < 0) {
      throw new PipeError(`strategy names class '${name}', which the dataset does not have`, {
        hint: `classes are: ${classes.join(', ')}`,
      });
    }
    if (!Number.isInteger(wanted) || wanted < 0) {
      throw new PipeError(`strategy count for '${name}' must be a whole number ≥ 0, got ${wanted}`);
    }
    if (kind === 'over' && wanted < counts[k]) {
      throw new PipeError(
        `over-sampling cannot shrink class '${name}' in ${where}: it has ${counts[k]} rows, strategy asks for ${wanted}`,
        { hint: `ask for at least ${counts[k]}, or use the undersample stage` },
      );
    }
    if (kind === 'under' && wanted > counts[k]) {
      throw new PipeError(
        `under-sampling cannot grow class '${name}' in ${where}: it has ${counts[k]} rows, strategy asks for ${wanted}`,
        { hint: `ask for at most ${counts[k]}, or use the oversample stage` },
      );
    }
    if (kind === 'over' && wanted > 0 && counts[k] === 0) {
      throw new PipeError(`cannot over-sample class '${name}' in ${where}: it has no rows to copy`);
    }
    out[k] = wanted;
  }
  return out;
}
