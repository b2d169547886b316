// The oversample and undersample stages differ only in direction, so both are made here.
// Light at top level (stage modules are imported when a pipeline is validated); Arrow is loaded inside run().
import { PipeError } from '../errors.js';
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
    // oversample 2: copies follow the rows they copy, in file order, rather than the order they were drawn in.
    version: kind === 'over' ? '2' : '1',
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
      const { openDatasetReader, openDatasetWriter, copyRows } = await import('./image-dataset.js');
      const { planResample } = await import('./resample.js');
      const seed = ctx.params.seed ?? ctx.seed;
      ctx.progress.update(`reading labels and splits of ${ctx.inputs.data.path}`);
      // The rows are chosen from the labels and splits alone; their pixels are then copied over a batch at a time.
      const reader = await openDatasetReader(ctx.inputs.data.path);
      let record: ResampleRecord;
      let plan;
      try {
        const { header, columns } = reader;
        plan = planResample(
          { labels: columns.labels, splitCodes: columns.splitCodes, splitNames: header.splitNames, classes: header.classes },
          { kind, strategy: ctx.params.strategy, splits: ctx.params.splits, seed },
        );
        record = {
          method,
          strategy: ctx.params.strategy,
          splits: ctx.params.splits,
          seed,
          before: plan.before,
          after: plan.after,
          rowsBefore: reader.rows,
          rowsAfter: plan.rows.length,
        };
        const earlier = header.metadata[RESAMPLE_KEY];
        if (earlier) {
          const prev = JSON.parse(earlier) as ResampleRecord;
          const { previous = [], ...last } = prev;
          record.previous = [...previous, last];
        }
        const writer = await openDatasetWriter(ctx.output('data'), { ...header, metadata: { ...header.metadata, [RESAMPLE_KEY]: JSON.stringify(record) } });
        const verb = method === 'oversample' ? 'copying' : 'keeping';
        const total = plan.rows.length;
        try {
          await copyRows(reader, writer, {
            picks: plan.rows,
            onBatch: (copied) => {
              if (ctx.signal.aborted) throw new PipeError(`${method} interrupted`, { exitCode: 1 });
              ctx.progress.update(`${verb} rows: ${copied}/${total}`);
            },
          });
          await writer.close();
        } catch (err) {
          await writer.abort();
          throw err;
        }
      } finally {
        await reader.close();
      }
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
