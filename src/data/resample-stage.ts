// The oversample and undersample stages differ only in direction, so both are made here.
// Light at top level (stage modules are imported when a pipeline is validated); Arrow is loaded inside run().
import { defineStage, type Stage } from '../stage.js';
import { strategySchema, type SamplerKind, type SamplingStrategy } from './sampling-strategy.js';
import type { CountsByGroup, SplitSelection } from './resample.js';

export interface ResampleParams {
  strategy: SamplingStrategy;
  splits: SplitSelection;
  seed?: number;
}

/** Metadata key that records resampling in the dataset (JSON of ResampleRecord). */
export const RESAMPLE_KEY = 'pipe.resample';

/**
 * What a resampling stage did, stored as JSON under `pipe.resample` in the Arrow schema metadata.
 * A later resampling stage keeps the earlier record in `previous` (oldest first).
 */
export interface ResampleRecord {
  method: 'oversample' | 'undersample';
  strategy: SamplingStrategy;
  /** Split names resampled, or "all" (every row as one pool, ignoring splits). */
  splits: SplitSelection;
  seed: number;
  /** Rows per class name before and after, keyed by split name (or "all"). */
  before: CountsByGroup;
  after: CountsByGroup;
  rowsBefore: number;
  rowsAfter: number;
  previous?: Omit<ResampleRecord, 'previous'>[];
}

export function defineResampleStage(kind: SamplerKind): Stage<ResampleParams> {
  const method = kind === 'over' ? 'oversample' : 'undersample';
  return defineStage<ResampleParams>({
    name: method,
    version: '1',
    description:
      kind === 'over'
        ? 'Random over-sampling (imbalanced-learn RandomOverSampler): keeps every row and appends random copies ' +
          'of rows of the selected classes until they reach the target count, within each chosen split.'
        : 'Random under-sampling (imbalanced-learn RandomUnderSampler): drops random rows of the selected classes ' +
          'until they reach the target count, within each chosen split.',
    params: {
      type: 'object',
      additionalProperties: false,
      properties: {
        strategy: strategySchema(kind),
        splits: {
          description:
            'Splits to resample, each on its own (others are copied unchanged); default only "train" so that ' +
            'evaluation data stays untouched. "all" resamples every row as one pool ignoring splits — the leaky ' +
            'protocol where copies of one image can later land in both train and test.',
          default: ['train'],
          oneOf: [
            { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, uniqueItems: true },
            { const: 'all' },
          ],
        },
        seed: {
          description: 'Seed for the random draws; defaults to the pipeline seed.',
          type: 'integer',
        },
      },
    },
    inputs: { data: { description: 'Image dataset (Arrow) with a split column.', accepts: ['dataset'] } },
    outputs: { data: { file: 'data.arrow', kind: 'dataset', description: `The ${method}d dataset; pipe.resample metadata records class counts before and after.` } },
    runtime: ['seed'],
    // Copies or drops rows: the images' shape passes on.
    facts: (_params, inputs) => ({ outputs: { data: inputs.data } }),
    gateMetrics: () => ({ summary: ['rowsBefore', 'rowsAfter', kind === 'over' ? 'rowsAdded' : 'rowsRemoved'] }),
    async run(ctx) {
      const { readDataset, writeDataset, selectRows } = await import('./image-dataset.js');
      const { planResample } = await import('./resample.js');
      const seed = ctx.params.seed ?? ctx.seed;
      ctx.progress.update(`reading ${ctx.inputs.data.path}`);
      const ds = await readDataset(ctx.inputs.data.path);
      const plan = planResample(ds, { kind, strategy: ctx.params.strategy, splits: ctx.params.splits, seed });
      ctx.progress.update(`${method === 'oversample' ? 'copying' : 'dropping'} ${plan.changed} rows`);
      const out = selectRows(ds, plan.rows);
      const record: ResampleRecord = {
        method,
        strategy: ctx.params.strategy,
        splits: ctx.params.splits,
        seed,
        before: plan.before,
        after: plan.after,
        rowsBefore: ds.labels.length,
        rowsAfter: out.labels.length,
      };
      const earlier = ds.metadata[RESAMPLE_KEY];
      if (earlier) {
        const prev = JSON.parse(earlier) as ResampleRecord;
        const { previous = [], ...last } = prev;
        record.previous = [...previous, last];
      }
      out.metadata[RESAMPLE_KEY] = JSON.stringify(record);
      await writeDataset(ctx.output('data'), out);
      ctx.log.info({ before: plan.before, after: plan.after }, `${method}: ${record.rowsBefore} → ${record.rowsAfter} rows`);
      return {
        method,
        rowsBefore: record.rowsBefore,
        rowsAfter: record.rowsAfter,
        [kind === 'over' ? 'rowsAdded' : 'rowsRemoved']: plan.changed,
        before: plan.before,
        after: plan.after,
      };
    },
  });
}
