// evaluate: runs a trained model over whole splits of a dataset (batched, bounded memory) and writes loss,
// accuracy, balanced accuracy, per-class precision/recall/F1, macro F1 and the confusion matrix per split.
import { defineStage } from '../src/stage.js';
import { PipeError } from '../src/errors.js';
import { METRICS_FILE, METRICS_KIND } from '../src/formats/metrics.js';
import { PREDICTIONS_FILE, PREDICTIONS_KIND } from '../src/formats/predictions.js';
import { modelDataMismatch } from '../src/model/shape-facts.js';
import type { TestTimeAugmentation } from '../src/model/inference.js';

export interface EvaluateParams {
  splits: string[];
  batchSize: number;
  testTimeAugmentation: TestTimeAugmentation;
  precision: 'auto' | 'fp32' | 'bf16';
}

/**
 * Names a split may go by in a source's own terms: FER2013 calls its test set PrivateTest and its
 * validation set PublicTest.
 */
const SPLIT_ALIASES: Record<string, string[]> = {
  test: ['PrivateTest'],
  validation: ['PublicTest'],
};

export default defineStage<EvaluateParams>({
  name: 'evaluate',
  version: '1',
  description: 'Measures a trained model on dataset splits: loss, accuracy, balanced accuracy, per-class P/R/F1, confusion matrix.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      splits: {
        type: 'array',
        items: { type: 'string' },
        minItems: 1,
        uniqueItems: true,
        default: ['test'],
        description: "Splits to evaluate, each reported separately. 'test' also finds FER2013's PrivateTest, 'validation' its PublicTest.",
      },
      batchSize: { type: 'integer', minimum: 1, default: 256, description: 'Images per inference batch (memory, not results).' },
      testTimeAugmentation: {
        enum: ['none', 'flip', 'flip-shift'],
        default: 'none',
        description:
          "'flip': average the predicted probabilities of each image and its left-right mirror (twice the inference time). " +
          "'flip-shift': ten views, the image and its mirror each also moved left, right, up and down by a twentieth of the width " +
          '(2 pixels at 48), edge pixels repeated (ten times the inference time).',
      },
      precision: {
        enum: ['auto', 'fp32', 'bf16'],
        default: 'auto',
        description:
          "What inference's convolutions and matrix products multiply in. auto: as the model was trained (train's precision, " +
          'recorded in the model folder): bf16 where it was trained in bf16 and the kernels here run bf16 natively (the wasm ' +
          'backend with oneDNN on a CPU whose oneDNN instruction set is avx512_core_bf16 or above), else fp32. fp32: float32 ' +
          'throughout. bf16: inputs rounded to bfloat16, products accumulated in float32, whatever the model was trained in; ' +
          'where it is unavailable evaluation runs fp32 and warns. Batch norm, pooling, softmax and the loss stay float32. ' +
          'The precision used is in metrics.json and the report.',
      },
    },
  },
  inputs: {
    model: { description: 'Trained model folder (from train).', accepts: ['model'] },
    data: { description: 'Image dataset (Arrow) holding the splits to evaluate.', accepts: ['dataset'] },
  },
  outputs: {
    metrics: { file: METRICS_FILE, kind: METRICS_KIND, description: '{ splits: { <split>: { loss, accuracy, balancedAccuracy, macroF1, perClass, confusion, classes } }, backend, precision }' },
    predictions: {
      file: PREDICTIONS_FILE,
      kind: PREDICTIONS_KIND,
      description: "Every scored image's dataset row, source, true and predicted class and class probabilities, per split (src/formats/predictions.ts).",
    },
  },
  runtime: ['tensorflow'],
  facts: (_params, inputs) => ({ problems: modelDataMismatch(inputs, 'model', 'data') }),
  gateMetrics: (params) => ({ splits: params.splits, summary: params.splits.flatMap((s) => [`${s}Accuracy`, `${s}BalancedAccuracy`]) }),
  async run(ctx) {
    const { loadTf, resolveInferencePrecision } = await import('../src/tf/backend.js');
    const { readDataset, rowsOfSplit } = await import('../src/data/image-dataset.js');
    const { transformOf } = await import('../src/data/normalisation.js');
    const { loadModel, readModelTraining } = await import('../src/model/model-io.js');
    const { BatchBuilder } = await import('../src/model/batches.js');
    const { inferRows } = await import('../src/model/inference.js');
    const { confusionMatrix, metricsFromConfusion } = await import('../src/model/metrics.js');
    const { checkModelFitsData } = await import('../src/model/compatibility.js');
    const { writeMetrics } = await import('../src/formats/metrics.js');
    const { PREDICTIONS_FORMAT, splitPredictions, writePredictions } = await import('../src/formats/predictions.js');
    type Predictions = import('../src/formats/predictions.js').Predictions;
    type SplitMetricsRecord = import('../src/formats/metrics.js').SplitMetricsRecord;

    const { tf, backend } = await loadTf(ctx.backend);
    // The model's key (its input), the precision param and the 'bf16' runtime fact determine this: all in the key.
    const trained = (await readModelTraining(ctx.inputs.model.path))?.precision;
    const { precision, warning } = await resolveInferencePrecision(backend, ctx.params.precision, trained);
    if (warning) ctx.log.warn(warning);
    ctx.log.info(`inference in ${precision}${trained ? ` (the model was trained in ${trained})` : ''}`);
    const ds = await readDataset(ctx.inputs.data.path);
    const model = await loadModel(tf, ctx.inputs.model.path);
    try {
      checkModelFitsData(model, ds, 'evaluate');
      const builder = new BatchBuilder(ds, transformOf(ds.metadata), ctx.params.batchSize);
      const splits: Record<string, SplitMetricsRecord> = {};
      const summary: Record<string, number> = {};
      const predictions: Predictions = { format: PREDICTIONS_FORMAT, classes: ds.classes, splits: {} };
      for (const requested of ctx.params.splits) {
        const name = [requested, ...(SPLIT_ALIASES[requested] ?? [])].find((n) => rowsOfSplit(ds, n).length > 0);
        if (!name) {
          throw new PipeError(`evaluate: the dataset has no rows in split '${requested}'`, {
            hint: `its splits are: ${ds.splitNames.join(', ') || '(none)'}; set splits to some of them`,
          });
        }
        if (name !== requested) ctx.log.info(`split '${requested}' is '${name}' in this dataset`);
        const rows = rowsOfSplit(ds, name);
        const result = await inferRows(tf, model, builder, rows, ds.shape, ds.classes.length, {
          signal: ctx.signal,
          tta: ctx.params.testTimeAugmentation,
          keepProbabilities: true,
          precision,
          onBatch: (done, total) => ctx.progress.update(`${requested}: batch ${done}/${total}`),
        });
        const metrics = metricsFromConfusion(confusionMatrix(result.truth, result.predicted, ds.classes.length), ds.classes);
        splits[requested] = { split: name, loss: result.loss, ...metrics };
        predictions.splits[requested] = splitPredictions(rows, ds.source, result.truth, result.predicted, result.probabilities!, ds.classes.length);
        summary[`${requested}Accuracy`] = metrics.accuracy;
        summary[`${requested}BalancedAccuracy`] = metrics.balancedAccuracy;
        ctx.log.info(
          `${requested} (${rows.length} rows): accuracy ${metrics.accuracy.toFixed(4)}, balanced ${metrics.balancedAccuracy.toFixed(4)}, macro F1 ${metrics.macroF1.toFixed(4)}`,
        );
      }
      await writeMetrics(ctx.output('metrics'), { splits, backend, precision });
      await writePredictions(ctx.output('predictions'), predictions);
      return { ...summary, backend, precision };
    } finally {
      model.dispose();
    }
  },
});
