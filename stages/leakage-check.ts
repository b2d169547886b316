// Finds byte-identical images within and across splits, near-duplicates (the same photo re-encoded, shifted or
// brightened: src/data/near-duplicates.ts), and labels that disagree on the same image. A model tested on images
// it was trained on scores high for the wrong reason; this stage makes that visible (and, with failOn, stops the
// pipeline).
import { defineStage } from '../src/stage.js';
import { PipeError } from '../src/errors.js';
import { NEAR_DUPLICATES_PARAMS, type NearDuplicatesParams } from '../src/data/near-duplicates.js';
import { LEAKAGE_FILE, LEAKAGE_KIND, type LeakageFailOn, type NearDuplicatesReport } from '../src/formats/leakage.js';

interface LeakageParams {
  failOn: LeakageFailOn;
  nearDuplicates: NearDuplicatesParams;
}

export default defineStage<LeakageParams>({
  name: 'leakage-check',
  version: '2',
  description:
    'Report exact duplicate images (by pixel hash, confirmed byte by byte) and near-duplicates (perceptual hash, ' +
    'confirmed by pixel correlation) within each split and across every two splits, with label conflicts and ' +
    'example thumbnails; optionally fail when exact copies are found.',
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
      nearDuplicates: NEAR_DUPLICATES_PARAMS,
    },
  },
  inputs: { data: { description: 'Image dataset (Arrow) with a split column.', accepts: ['dataset'] } },
  outputs: {
    report: {
      file: LEAKAGE_FILE,
      kind: LEAKAGE_KIND,
      description: 'Duplicate groups per split pair, label conflicts, examples with thumbnails; near-duplicates under nearDuplicates.',
    },
  },
  gateMetrics: () => ({ summary: ['rows', 'duplicateGroups', 'rowsInDuplicateGroups', 'crossSplitGroups', 'labelConflictGroups'] }),
  async run(ctx) {
    const { writeLeakage } = await import('../src/formats/leakage.js');
    const { readDataset } = await import('../src/data/image-dataset.js');
    const { findDuplicateGroups } = await import('../src/data/duplicates.js');
    const { buildLeakageReport, addMatchedRows, pairName } = await import('../src/data/leakage-report.js');
    const { findNearDuplicateGroups } = await import('../src/data/near-duplicates.js');
    const { thumbnailStrip } = await import('../src/data/thumbnails.js');
    ctx.progress.update(`reading ${ctx.inputs.data.path}`);
    const ds = await readDataset(ctx.inputs.data.path);
    const n = ds.labels.length;
    const groups = findDuplicateGroups(ds, (done) => ctx.progress.update(`hashing ${done}/${n} images`));
    const report = buildLeakageReport(ds, groups);
    const near = ctx.params.nearDuplicates;
    let nearReport: NearDuplicatesReport | undefined;
    if (near.enabled) {
      const options = { maxDistance: near.maxDistance, minCorrelation: near.minCorrelation, maxShift: near.maxShift };
      const found = await findNearDuplicateGroups(ds, options, (message) => ctx.progress.update(message), ctx.signal);
      const built = buildLeakageReport(ds, found.groups);
      addMatchedRows(built, ds, found.pairs);
      nearReport = { ...options, candidatePairs: found.candidatePairs, confirmedPairs: found.pairs.length, ...built };
    }
    ctx.progress.update('drawing example thumbnails');
    for (const p of [...report.pairs, ...(nearReport?.pairs ?? [])]) {
      for (const e of p.examples) e.thumbnail = await thumbnailStrip(ds, e.rows.map((r) => r.row));
    }
    const { failOn } = ctx.params;
    const failing = failOn === 'any' ? report.duplicateGroups > 0 : failOn === 'cross-split' ? report.crossSplitGroups > 0 : false;
    await writeLeakage(ctx.output('report'), { ...report, ...(nearReport ? { nearDuplicates: nearReport } : {}), failOn, failed: failing });

    const found = report.pairs.filter((p) => p.groups > 0);
    const perPair = Object.fromEntries(found.map((p) => [pairName(p), { groups: p.groups, rows: p.rows, labelConflicts: p.labelConflicts }]));
    const describe = found.map((p) => `${pairName(p)}: ${p.groups} groups (${Object.entries(p.rows).map(([s, r]) => `${r} ${s} rows`).join(', ')}, ${p.labelConflicts} label conflicts)`);
    if (found.length > 0) ctx.log.warn(`duplicate images: ${describe.join('; ')}`);
    else ctx.log.info('no duplicate images');
    const nearCross = (nearReport?.pairs ?? []).filter((p) => p.kind === 'cross' && p.groups > 0);
    const nearMatched = nearCross.map((p) => `${pairName(p)}: ${Object.entries(p.matchedRows ?? {}).map(([s, r]) => `${r} ${s} rows`).join(', ')}`);
    if (nearCross.length > 0) ctx.log.warn(`near-duplicate images across splits (exact copies included): ${nearMatched.join('; ')}`);
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
      ...(nearReport
        ? {
            nearDuplicates: {
              groups: nearReport.duplicateGroups,
              crossSplitGroups: nearReport.crossSplitGroups,
              labelConflictGroups: nearReport.labelConflictGroups,
              matchedRows: Object.fromEntries(nearCross.map((p) => [pairName(p), p.matchedRows])),
            },
          }
        : {}),
    };
  },
});
