// Finds byte-identical images within and across splits, and labels that disagree on the same image. A model
// tested on images it was trained on scores high for the wrong reason; this stage makes that visible (and, with
// failOn, stops the pipeline).
import { defineStage } from '../src/stage.js';
import { PipeError } from '../src/errors.js';

interface LeakageParams {
  failOn: 'none' | 'cross-split' | 'any';
}

export default defineStage<LeakageParams>({
  name: 'leakage-check',
  version: '1',
  description:
    'Report exact duplicate images (by pixel hash, confirmed byte by byte) within each split and across every two ' +
    'splits, with label conflicts and example rows; optionally fail when any are found.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      failOn: {
        description:
          "'none': only report. 'cross-split': fail when an image appears in two splits (train/test leakage). " +
          "'any': fail on any duplicate, also within one split (note that over-sampling makes such copies on purpose).",
        enum: ['none', 'cross-split', 'any'],
        default: 'none',
      },
    },
  },
  inputs: { data: { description: 'Image dataset (Arrow) with a split column.', accepts: ['dataset'] } },
  outputs: { report: { file: 'leakage.json', kind: 'leakage', description: 'Duplicate groups per split pair, label conflicts, examples.' } },
  async run(ctx) {
    const { writeFile } = await import('node:fs/promises');
    const { readDataset } = await import('../src/data/image-dataset.js');
    const { findDuplicateGroups } = await import('../src/data/duplicates.js');
    const { buildLeakageReport, pairName } = await import('../src/data/leakage-report.js');
    ctx.progress.update(`reading ${ctx.inputs.data.path}`);
    const ds = await readDataset(ctx.inputs.data.path);
    const n = ds.labels.length;
    const groups = findDuplicateGroups(ds, (done) => ctx.progress.update(`hashing ${done}/${n} images`));
    const report = buildLeakageReport(ds, groups);
    const { failOn } = ctx.params;
    const failing = failOn === 'any' ? report.duplicateGroups > 0 : failOn === 'cross-split' ? report.crossSplitGroups > 0 : false;
    await writeFile(ctx.output('report'), JSON.stringify({ ...report, failOn, failed: failing }, null, 2) + '\n');

    const found = report.pairs.filter((p) => p.groups > 0);
    const perPair = Object.fromEntries(found.map((p) => [pairName(p), { groups: p.groups, rows: p.rows, labelConflicts: p.labelConflicts }]));
    const describe = found.map((p) => `${pairName(p)}: ${p.groups} groups (${Object.entries(p.rows).map(([s, r]) => `${r} ${s} rows`).join(', ')}, ${p.labelConflicts} label conflicts)`);
    if (found.length > 0) ctx.log.warn(`duplicate images: ${describe.join('; ')}`);
    else ctx.log.info('no duplicate images');
    if (failing) {
      const what = failOn === 'any' ? `${report.duplicateGroups} groups of duplicate images` : `${report.crossSplitGroups} images shared between splits`;
      throw new PipeError(`leakage-check: ${what} — ${describe.join('; ')}`, {
        exitCode: 1,
        hint:
          failOn === 'cross-split'
            ? 'split before any resampling and remove duplicate images across splits; set failOn: none to only report'
            : 'remove duplicates, or set failOn: cross-split (or none) if copies within a split are intended',
      });
    }
    return {
      rows: report.rows,
      duplicateGroups: report.duplicateGroups,
      rowsInDuplicateGroups: report.rowsInDuplicateGroups,
      crossSplitGroups: report.crossSplitGroups,
      labelConflictGroups: report.labelConflictGroups,
      pairs: perPair,
    };
  },
});
