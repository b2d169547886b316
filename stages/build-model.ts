// build-model: turns a YAML layer spec into an untrained TensorFlow.js model (seeded, so reproducible)
// and a summary table of its layers, output shapes and parameter counts.
import { writeFile } from 'node:fs/promises';
import { defineStage } from '../src/stage.js';
import { MODEL_SUMMARY_FILE, MODEL_SUMMARY_KIND } from '../src/formats/model-summary.js';
import { PipeError } from '../src/errors.js';
import { layersSchema, type LayerSpecItem } from '../src/model/layers/spec.js';
import { checkLayerShapes } from '../src/model/layers/check-shapes.js';

export interface BuildModelParams {
  inputShape: [number, number, number];
  layers: LayerSpecItem[];
}

export default defineStage<BuildModelParams>({
  name: 'build-model',
  version: '1',
  description: 'Builds an untrained Keras-style CNN from a layer list (residual blocks included), with seeded initial weights.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      inputShape: {
        type: 'array',
        description: 'Shape of one input image, [height, width, channels]; must match the dataset the model trains on.',
        items: { type: 'integer', minimum: 1 },
        minItems: 3,
        maxItems: 3,
        default: [48, 48, 1],
      },
      layers: layersSchema(),
    },
    required: ['layers'],
  },
  inputs: {},
  outputs: {
    model: { file: 'model/', kind: 'model', description: 'Untrained model in TensorFlow.js layers format (model.json + weights.bin).' },
    summary: { file: MODEL_SUMMARY_FILE, kind: MODEL_SUMMARY_KIND, description: 'Layers with output shapes and parameter counts (JSON).' },
    summaryText: { file: 'summary.txt', kind: 'text', description: 'The same summary as a plain-text table.' },
  },
  runtime: ['seed', 'tensorflow'],
  check: (params) => checkLayerShapes(params.layers, params.inputShape),
  facts: (p, _inputs, { id }) => ({
    outputs: { model: { inputShape: p.inputShape, source: { stage: id, params: ['inputShape'], says: `inputShape [${p.inputShape.join(', ')}]` } } },
  }),
  gateMetrics: () => ({ summary: ['layers', 'totalParams', 'trainableParams'] }),
  async run(ctx) {
    // Params reach run() checked, but a stage can also be run on its own (tests, other runners).
    const [problem] = checkLayerShapes(ctx.params.layers, ctx.params.inputShape);
    if (problem) throw new PipeError(`build-model: ${problem.message}`, { hint: problem.hint });
    const { loadTf } = await import('../src/tf/backend.js');
    const { specToTopology, fanInBiasLayers, withFanInBiases } = await import('../src/model/layers/spec.js');
    const { modelFromTopology, saveModel } = await import('../src/model/model-io.js');
    const { summariseModel, summaryTable } = await import('../src/model/summary.js');
    const { writeModelSummary } = await import('../src/formats/model-summary.js');
    const { tf, backend } = await loadTf(ctx.backend);
    let topology = specToTopology(ctx.params.layers, ctx.params.inputShape, ctx.seed);
    let model;
    try {
      model = await modelFromTopology(tf, topology);
      const fanInBiases = fanInBiasLayers(ctx.params.layers);
      if (fanInBiases.length) {
        // Built once for the kernel shapes that give each fan-in, then again with the bounds in place.
        const built = model;
        const pointwise = (name: string) => {
          const layer = built.getLayer(name);
          return layer.weights.find((w) => /pointwise/.test(w.originalName)) ?? layer.weights[0];
        };
        topology = withFanInBiases(topology, fanInBiases, (name) => pointwise(name).shape as number[]);
        built.dispose();
        model = await modelFromTopology(tf, topology);
      }
    } catch (err) {
      // Shape errors (a window larger than its input, a dense layer on 4-D input …) surface here.
      throw new PipeError(`build-model: the layer list does not make a valid network: ${(err as Error).message}`, {
        hint: 'check kernel/pool sizes against the input size (valid padding shrinks each side by kernelSize-1) and put flatten before dense',
        cause: err,
      });
    }
    try {
      await saveModel(tf, model, ctx.output('model'));
      const summary = summariseModel(model);
      await writeModelSummary(ctx.output('summary'), summary);
      const table = summaryTable(summary);
      await writeFile(ctx.output('summaryText'), table);
      ctx.log.info(`model summary\n${table}`);
      return {
        layers: summary.layers.length,
        totalParams: summary.totalParams,
        trainableParams: summary.trainableParams,
        outputShape: summary.layers[summary.layers.length - 1].outputShape,
        backend,
      };
    } finally {
      model.dispose();
    }
  },
});
