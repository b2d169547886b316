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
    const { openDatasetReader, openDatasetWriter, copyRows, imageSize } = await import('../src/data/image-dataset.js');
    const { NORMALISE_KEY, PixelStatistics, SCALE_TRANSFORM } = await import('../src/data/normalisation.js');
    type Transform = import('../src/data/normalisation.js').NormaliseTransform;
    const { mode, statistics, fitSplit } = ctx.params;
    ctx.progress.update(`reading labels and splits of ${ctx.inputs.data.path}`);
    // A batch at a time: one pass over the fit split's batches for the statistics, one to write every row.
    const reader = await openDatasetReader(ctx.inputs.data.path);
    try {
      const { header, columns } = reader;
      const interrupted = () => new PipeError('normalise interrupted', { exitCode: 1 });
      let transform: Transform;
      if (mode === 'scale') {
        transform = { ...SCALE_TRANSFORM };
      } else {
        const code = header.splitNames.indexOf(fitSplit);
        let fitRows = 0;
        for (let i = 0; i < reader.rows; i++) if (columns.splitCodes[i] === code) fitRows++;
        if (code < 0 || fitRows === 0) {
          const present = header.splitNames.map((s) => `'${s}'`).join(', ') || '(none)';
          throw new PipeError(`normalise: split '${fitSplit}' has no rows to fit mean and std on`, {
            hint: `the dataset's splits are ${present}; set fitSplit to the training split (run a split stage first if there is none)`,
          });
        }
        const size = imageSize(header);
        const stats = new PixelStatistics(header.shape[2]);
        // Ctrl-C is seen within a few images of it.
        const turn = eventLoopTurns();
        let added = 0;
        for (let b = 0; b < reader.batchCount; b++) {
          const start = reader.batchStart(b);
          const end = reader.batchStart(b + 1);
          if (!columns.splitCodes.subarray(start, end).includes(code)) continue;
          ctx.progress.update(`statistics: ${added}/${fitRows} ${fitSplit} images`);
          const { pixels } = await reader.batch(b);
          for (let i = start; i < end; i++) {
            if (columns.splitCodes[i] !== code) continue;
            stats.add(pixels.subarray((i - start) * size, (i - start + 1) * size));
            if (++added % 256 === 0) {
              await turn();
              if (ctx.signal.aborted) throw interrupted();
            }
          }
        }
        const { mean, std, zeroStd } = stats.result(statistics === 'per-channel');
        if (zeroStd) ctx.log.warn(`split '${fitSplit}' has constant pixels in some channel; std set to 1 there`);
        transform = { mode, scale: 1 / 255, mean, std, fitSplit, fitRows };
      }
      const writer = await openDatasetWriter(ctx.output('data'), { ...header, metadata: { ...header.metadata, [NORMALISE_KEY]: JSON.stringify(transform) } });
      try {
        await copyRows(reader, writer, {
          onBatch: (copied) => {
            if (ctx.signal.aborted) throw interrupted();
            ctx.progress.update(`writing rows: ${copied}/${reader.rows}`);
          },
        });
        await writer.close();
      } catch (err) {
        await writer.abort();
        throw err;
      }
      ctx.log.info({ transform }, `normalise: ${mode}`);
      return { ...transform, rows: reader.rows };
    } finally {
      await reader.close();
    }
  },
});
