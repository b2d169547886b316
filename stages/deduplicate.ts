// deduplicate: makes a split leak-free. It removes from the training split (or the splits named in `from`) every
// image that is an exact or near copy of an image in a split it must not see (validation, test), with the
// leakage check's meaning of a copy, and optionally merges copies within a split. Nothing is removed from a split
// that is not in `from`: the test split stays whole unless asked. What was removed, with thumbnails, goes to
// deduplication.json, which the report shows.
import { defineStage } from '../src/stage.js';
import { PipeError } from '../src/errors.js';
import { NEAR_DUPLICATES_PARAMS, type NearDuplicatesParams } from '../src/data/near-duplicates.js';
import { DEDUPLICATION_FILE, DEDUPLICATION_KIND } from '../src/formats/deduplication.js';

interface DeduplicateParams {
  from: string[];
  withinSplit: boolean;
  nearDuplicates: NearDuplicatesParams;
}

export default defineStage<DeduplicateParams>({
  name: 'deduplicate',
  version: '1',
  description:
    'Removes from the training split every exact or near copy of a validation or test image (the leakage check\'s ' +
    'hash and threshold), optionally merges copies within a split, and reports what it removed with thumbnails.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      from: {
        type: 'array',
        items: { type: 'string', minLength: 1 },
        minItems: 1,
        uniqueItems: true,
        default: ['train'],
        description:
          'Splits copies are removed from, the first losing first: a row goes when a split listed after it, or any split ' +
          "not listed, holds a copy. ['train']: training gives up its copies of validation and test images; " +
          "['train', 'validation']: validation also gives up its copies of test images. Splits not listed lose nothing.",
      },
      withinSplit: {
        type: 'boolean',
        default: false,
        description: 'Also keep only the first of the copies within each split of `from` (copies inside training weigh those images more).',
      },
      nearDuplicates: NEAR_DUPLICATES_PARAMS,
    },
  },
  inputs: { data: { description: 'Image dataset (Arrow) with a split column, after split.', accepts: ['dataset'] } },
  outputs: {
    data: { file: 'data.arrow', kind: 'dataset', description: 'The same rows less the removed copies, in the same order.' },
    report: {
      file: DEDUPLICATION_FILE,
      kind: DEDUPLICATION_KIND,
      description: 'Rows removed per split and per pair of splits, rows merged within a split, examples with thumbnails.',
    },
  },
  // Drops rows: the images' shape passes on.
  facts: (_params, inputs) => ({ outputs: { data: inputs.data } }),
  gateMetrics: () => ({ summary: ['rowsBefore', 'rowsAfter', 'removed', 'merged'] }),
  async run(ctx) {
    const { DEDUPLICATION_FORMAT, writeDeduplication } = await import('../src/formats/deduplication.js');
    const { readDataset, selectRows, writeDataset } = await import('../src/data/image-dataset.js');
    const { findDuplicateGroups } = await import('../src/data/duplicates.js');
    const { findNearDuplicateGroups } = await import('../src/data/near-duplicates.js');
    const { planDeduplication } = await import('../src/data/deduplication.js');
    const { thumbnailStrip } = await import('../src/data/thumbnails.js');

    ctx.progress.update(`reading ${ctx.inputs.data.path}`);
    const ds = await readDataset(ctx.inputs.data.path);
    const missing = ctx.params.from.filter((s) => !ds.splitNames.includes(s));
    if (missing.length) {
      throw new PipeError(`deduplicate: the dataset has no split ${missing.map((s) => `'${s}'`).join(', ')}`, {
        hint: `its splits are: ${ds.splitNames.join(', ') || '(none)'}; set from: to some of them (run a split stage first)`,
      });
    }
    const n = ds.labels.length;
    const near = ctx.params.nearDuplicates;
    const groups = near.enabled
      ? (await findNearDuplicateGroups(ds, near, (message) => ctx.progress.update(message), ctx.signal)).groups
      : findDuplicateGroups(ds, (done) => ctx.progress.update(`hashing ${done}/${n} images`));
    const plan = planDeduplication(ds, groups, ctx.params.from, ctx.params.withinSplit);

    ctx.progress.update('drawing example thumbnails');
    for (const list of Object.values(plan.report.examples)) {
      for (const e of list) e.thumbnail = await thumbnailStrip(ds, [e.removed.row, e.kept.row]);
    }
    ctx.progress.update(`writing ${plan.kept.length} of ${n} rows`);
    await writeDataset(ctx.output('data'), plan.kept.length === n ? ds : selectRows(ds, plan.kept));
    await writeDeduplication(ctx.output('report'), { format: DEDUPLICATION_FORMAT, match: near.enabled ? 'near' : 'exact', ...plan.report });

    const removed = Object.values(plan.report.removedBySplit).reduce((a, b) => a + b, 0);
    const merged = Object.values(plan.report.mergedBySplit).reduce((a, b) => a + b, 0);
    const pairs = Object.entries(plan.report.removedByPair).map(([pair, k]) => `${k} ${pair}`);
    ctx.log.info(`removed ${removed} copies (${pairs.join(', ') || 'none across splits'})${merged ? `, merged ${merged} within splits` : ''}`);
    return { rowsBefore: n, rowsAfter: plan.kept.length, removed, merged, removedBySplit: plan.report.removedBySplit, removedByPair: plan.report.removedByPair };
  },
});
