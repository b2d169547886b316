// A built-in, seeded dataset of 48×48 grey cartoon faces in FER2013's seven expression classes, for trying a
// pipeline in a minute without downloading anything, and for tests.
import { defineStage } from '../src/stage.js';

interface SyntheticFacesParams {
  count: number;
  imbalance: 'fer2013' | 'balanced' | Record<string, number>;
  splits: Record<string, number>;
  seed?: number;
  size: number;
}

export default defineStage<SyntheticFacesParams>({
  name: 'synthetic-faces',
  version: '1',
  description:
    "Generate grey cartoon faces with FER2013's classes (Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral), which " +
    'differ by mouth, brows and eyes, under random pose, lighting and noise; seeded and split like FER2013.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      count: { description: 'Number of images.', type: 'integer', minimum: 1, maximum: 1000000, default: 3000 },
      imbalance: {
        description:
          "Class sizes: 'fer2013' (proportional to FER2013's counts, Disgust ≈ 1.5%), 'balanced', or an object " +
          '{className: weight} (classes left out get no rows).',
        default: 'fer2013',
        oneOf: [
          { type: 'string', enum: ['fer2013', 'balanced'] },
          { type: 'object', additionalProperties: { type: 'number', minimum: 0 }, minProperties: 1 },
        ],
      },
      splits: {
        description: 'Split name → fraction of each class, written into the split column; fractions add up to 1.',
        type: 'object',
        additionalProperties: { type: 'number', minimum: 0, maximum: 1 },
        minProperties: 1,
        default: { train: 0.8, validation: 0.1, test: 0.1 },
      },
      seed: { description: 'Seed of the generator; defaults to the pipeline seed.', type: 'integer' },
      size: { description: 'Image side in pixels (FER2013: 48).', type: 'integer', minimum: 16, maximum: 256, default: 48 },
    },
  },
  inputs: {},
  outputs: { data: { file: 'data.arrow', kind: 'dataset', description: 'The generated image dataset with a split column.' } },
  runtime: ['seed'],
  facts: (p, _inputs, { id }) => ({
    outputs: { data: { imageShape: [p.size, p.size, 1], source: { stage: id, params: ['size'], says: `size ${p.size}, grey` } } },
  }),
  gateMetrics: () => ({ summary: ['rows', 'seed'] }),
  async run(ctx) {
    const { generateSyntheticFaces } = await import('../src/data/synthetic-faces.js');
    const { writeDataset, classCounts } = await import('../src/data/image-dataset.js');
    const { count, imbalance, splits, size } = ctx.params;
    const seed = ctx.params.seed ?? ctx.seed;
    const ds = await generateSyntheticFaces({ count, imbalance, splits, size, seed }, (done) => ctx.progress.update(`drawing faces ${done}/${count}`), ctx.signal);
    await writeDataset(ctx.output('data'), ds);
    const counts = classCounts(ds);
    return {
      rows: count,
      seed,
      classCounts: Object.fromEntries(Object.entries(counts).map(([s, c]) => [s, Object.fromEntries(ds.classes.map((name, k) => [name, c[k]]))])),
    };
  },
});
