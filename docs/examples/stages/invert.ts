// A user stage: inverts every image of a dataset (x -> 255 - x). Used from a pipeline as
//   uses: ./stages/invert.ts
import type { Stage } from '../../../src/stage.js';

interface InvertParams {
  /** Only these splits are inverted; the others pass through unchanged. */
  splits: string[];
}

const invert: Stage<InvertParams> = {
  name: 'invert',
  version: '1',
  description: 'Invert grey levels (255 - x) of the images in the chosen splits',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      splits: { type: 'array', items: { type: 'string' }, default: ['train', 'validation', 'test'], description: 'splits to invert' },
    },
  },
  inputs: { data: { description: 'an image dataset (Arrow)', accepts: ['dataset'] } },
  outputs: { data: { file: 'data.arrow', kind: 'dataset', description: 'the dataset with inverted images' } },
  async run(ctx) {
    // Heavy modules load inside run(), so validating a pipeline stays fast.
    const { readDataset, writeDataset, imageSize } = await import('../../../src/data/image-dataset.js');
    const ds = await readDataset(ctx.inputs.data.path);
    const size = imageSize(ds);
    const chosen = new Set(ctx.params.splits.map((name) => ds.splitNames.indexOf(name)));
    let inverted = 0;
    for (let row = 0; row < ds.labels.length; row++) {
      if (!chosen.has(ds.splitCodes[row])) continue;
      const image = ds.pixels.subarray(row * size, (row + 1) * size);
      for (let i = 0; i < image.length; i++) image[i] = 255 - image[i];
      inverted++;
      if (row % 1000 === 0) ctx.progress.update(`${row}/${ds.labels.length} rows`);
    }
    await writeDataset(ctx.output('data'), ds);
    ctx.log.info({ inverted }, 'inverted images');
    return { inverted };
  },
};

export default invert;
