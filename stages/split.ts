// Assigns every row of a dataset to a split: either renames the splits the data already has (FER2013's Usage
// values by default) or divides rows into new splits by fractions, stratified by class and seeded.
import { FER2013_SPLIT_MAP } from '../src/data/fer2013.js';
import { PipeError } from '../src/errors.js';
import { defineStage } from '../src/stage.js';

export interface SplitParams {
  map?: Record<string, string>;
  fractions?: Record<string, number>;
  from?: string[];
  seed?: number;
}

/** Metadata key recording how the splits were made (JSON). */
export const SPLIT_KEY = 'pipe.split';

const splitName = { type: 'string', minLength: 1, maxLength: 64 };

export default defineStage<SplitParams>({
  name: 'split',
  version: '1',
  description:
    'Assign rows to splits: rename existing split values with `map` (default: FER2013 Training → train, PublicTest → validation, PrivateTest → test), or divide rows into new splits by `fractions`, stratified by class and seeded.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      map: {
        type: 'object',
        additionalProperties: splitName,
        propertyNames: splitName,
        minProperties: 1,
        description:
          'Existing split value → new split name; several values may map to one name. A value present in the data but missing here is an error. Used when neither map nor fractions is given: { Training: train, PublicTest: validation, PrivateTest: test }.',
      },
      fractions: {
        type: 'object',
        additionalProperties: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
        propertyNames: splitName,
        minProperties: 1,
        description:
          'New split name → share of rows, adding up to 1, e.g. { train: 0.8, validation: 0.1, test: 0.1 }. Each class is divided in these proportions (exact counts, largest remainder) after a seeded shuffle. Excludes map.',
      },
      from: {
        type: 'array',
        items: splitName,
        minItems: 1,
        uniqueItems: true,
        description:
          'With fractions: only rows of these existing splits are divided; other rows keep their split (e.g. from: [train] with fractions { train: 0.9, validation: 0.1 } keeps test as it is). Default: every row.',
      },
      seed: {
        type: 'integer',
        description: 'Seed of the shuffle for fractions; defaults to the pipeline seed.',
      },
    },
  },
  inputs: { data: { description: 'Image dataset (Arrow).', accepts: ['dataset'] } },
  outputs: { data: { file: 'data.arrow', kind: 'dataset', description: 'The same rows in the same order with new split values.' } },
  runtime: ['seed'],
  // The same images as its input: their shape passes on.
  facts: (_params, inputs) => ({ outputs: { data: inputs.data } }),
  gateMetrics: () => ({ summary: ['rows', 'sourcesInSeveralSplits'] }),
  async run(ctx) {
    const { openDatasetReader, openDatasetWriter, copyRows } = await import('../src/data/image-dataset.js');
    const { mapSplits, fractionSplits, sourcesInSeveralSplits } = await import('../src/data/split-plan.js');
    const p = ctx.params;
    if (p.map && p.fractions) {
      throw new PipeError('split takes either map or fractions, not both', {
        hint: 'map renames splits the data already has; fractions makes new ones. Remove one of them.',
      });
    }
    if (p.from && !p.fractions) {
      throw new PipeError('from only applies with fractions', { hint: 'remove from, or add fractions' });
    }
    ctx.progress.update('reading labels and splits');
    // The splits are chosen from the labels and split codes alone; the pixels then pass through a batch at a time.
    const reader = await openDatasetReader(ctx.inputs.data.path);
    try {
      const { header, columns } = reader;
      const seed = p.seed ?? ctx.seed;
      let record: Record<string, unknown>;
      let assigned;
      if (p.fractions) {
        assigned = fractionSplits({
          labels: columns.labels,
          classCount: header.classes.length,
          splitNames: header.splitNames,
          splitCodes: columns.splitCodes,
          fractions: p.fractions,
          from: p.from,
          seed,
        });
        record = { method: 'fractions', fractions: p.fractions, from: p.from ?? 'all', seed, stratified: true };
      } else {
        const map = p.map ?? FER2013_SPLIT_MAP;
        assigned = mapSplits(header.splitNames, columns.splitCodes, map);
        record = { method: 'map', map };
      }
      // Copies of one source row (from resampling before this stage) in different splits leak test data into training.
      const leaked = sourcesInSeveralSplits(columns.source, assigned.splitCodes);
      if (leaked > 0) {
        ctx.log.warn(
          `${leaked} source rows have copies in more than one split: evaluation data overlaps training data (resample after splitting, and only the train split, to avoid this)`,
        );
      }
      const writer = await openDatasetWriter(ctx.output('data'), {
        shape: header.shape,
        classes: header.classes,
        splitNames: assigned.splitNames,
        metadata: { ...header.metadata, [SPLIT_KEY]: JSON.stringify({ ...record, sourcesInSeveralSplits: leaked }) },
      });
      try {
        await copyRows(reader, writer, {
          splitCodes: assigned.splitCodes,
          onBatch: (copied) => {
            if (ctx.signal.aborted) throw new PipeError('split interrupted', { exitCode: 1 });
            ctx.progress.update(`writing rows: ${copied}/${reader.rows}`);
          },
        });
        await writer.close();
      } catch (err) {
        await writer.abort();
        throw err;
      }
      const counts = writer.counts;
      return {
        method: record.method,
        rows: reader.rows,
        splits: Object.fromEntries(assigned.splitNames.map((s, code) => [s, counts[code].reduce((a, b) => a + b, 0)])),
        classCounts: Object.fromEntries(
          assigned.splitNames.map((s, code) => [s, Object.fromEntries(header.classes.map((name, k) => [name, counts[code][k]]))]),
        ),
        sourcesInSeveralSplits: leaked,
      };
    } finally {
      await reader.close();
    }
  },
});
