// Records how pixels are to be normalised (0..1 scaling, or standardisation with statistics of the train split
// only) without rewriting them: pixels stay uint8 and `pipe.normalise` holds the affine transform that training and
// evaluation apply per batch (src/data/normalisation.ts: normaliseBatch).
import { defineStage } from '../src/stage.js';
import { PipeError } from '../src/errors.js';
import { eventLoopTurns } from '../src/event-loop.js';

interface NormaliseParams {
  mode: 'scale' | 'standardise';
  statistics: 'per-channel' | 'global';
  fitSplit: string;
}

export default defineStage<NormaliseParams>({
  name: 'normalise',
  version: '1',
  description:
    'Attach a pixel normalisation (x/255, or (x/255 − mean)/std with mean and std fitted on one split) to the ' +
    'dataset as metadata; pixels stay uint8 so the dataset does not grow fourfold.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      mode: {
        description: "'scale': x/255 (values 0..1). 'standardise': (x/255 − mean)/std, mean and std measured on fitSplit only.",
        enum: ['scale', 'standardise'],
        default: 'scale',
      },
      statistics: {
        description: "For standardise: one mean/std per colour channel ('per-channel') or one for all channels ('global').",
        enum: ['per-channel', 'global'],
        default: 'per-channel',
      },
      fitSplit: {
        description:
          'Split whose rows the standardisation statistics come from. Only training data may inform them; ' +
          'fitting on validation or test rows leaks their distribution into the model.',
        type: 'string',
        minLength: 1,
        default: 'train',
      },
    },
  },
  inputs: { data: { description: 'Image dataset (Arrow) with a split column.', accepts: ['dataset'] } },
  outputs: { data: { file: 'data.arrow', kind: 'dataset', description: 'The same rows, with the transform in pipe.normalise metadata.' } },
  // The same images as its input: their shape passes on.
  facts: (_params, inputs) => ({ outputs: { data: inputs.data } }),
  gateMetrics: () => ({ summary: ['scale', 'fitRows', 'rows'] }),
  async run(ctx) {
    const { readDataset, writeDataset, rowsOfSplit, imageAt } = await import('../src/data/image-dataset.js');
    const { NORMALISE_KEY, PixelStatistics, SCALE_TRANSFORM } = await import('../src/data/normalisation.js');
    type Transform = import('../src/data/normalisation.js').NormaliseTransform;
    const { mode, statistics, fitSplit } = ctx.params;
    ctx.progress.update(`reading ${ctx.inputs.data.path}`);
    const ds = await readDataset(ctx.inputs.data.path);
    let transform: Transform;
    if (mode === 'scale') {
      transform = { ...SCALE_TRANSFORM };
    } else {
      const rows = rowsOfSplit(ds, fitSplit);
      if (rows.length === 0) {
        const present = ds.splitNames.map((s) => `'${s}'`).join(', ') || '(none)';
        throw new PipeError(`normalise: split '${fitSplit}' has no rows to fit mean and std on`, {
          hint: `the dataset's splits are ${present}; set fitSplit to the training split (run a split stage first if there is none)`,
        });
      }
      const stats = new PixelStatistics(ds.shape[2]);
      // Ctrl-C is seen within a few images of it.
      const turn = eventLoopTurns();
      for (let j = 0; j < rows.length; j++) {
        stats.add(imageAt(ds, rows[j]));
        if (j % 256 === 0) {
          await turn();
          if (ctx.signal.aborted) throw new PipeError('normalise interrupted', { exitCode: 1 });
          if (j % 8192 === 0) ctx.progress.update(`statistics: ${j}/${rows.length} ${fitSplit} images`);
        }
      }
      const { mean, std, zeroStd } = stats.result(statistics === 'per-channel');
      if (zeroStd) ctx.log.warn(`split '${fitSplit}' has constant pixels in some channel; std set to 1 there`);
      transform = { mode, scale: 1 / 255, mean, std, fitSplit, fitRows: rows.length };
    }
    ds.metadata[NORMALISE_KEY] = JSON.stringify(transform);
    ctx.progress.update('writing');
    await writeDataset(ctx.output('data'), ds);
    ctx.log.info({ transform }, `normalise: ${mode}`);
    return { ...transform, rows: ds.labels.length };
  },
});
