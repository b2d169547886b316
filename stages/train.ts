// train: fits a model from build-model on a dataset's training split with a custom loop (bounded memory,
// seeded shuffling/augmentation/dropout), validating each epoch and checkpointing so an interrupted run resumes.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage } from '../src/stage.js';
import { PipeError } from '../src/errors.js';
import type { AugmentSpec } from '../src/model/augment.js';
import type { ClassWeightsSpec } from '../src/model/class-weights.js';
import type { ScheduleSpec } from '../src/train/lr-schedule.js';
import type { OptimizerSpec } from '../src/train/optimizers.js';
import type { EarlyStoppingSpec } from '../src/train/loop.js';
import { DURATION_PATTERN, durationSeconds } from '../src/duration.js';
import { modelDataMismatch } from '../src/model/shape-facts.js';

export interface TrainParams {
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  labelSmoothing: number;
  batchSize: number;
  epochs: number;
  classWeights: ClassWeightsSpec;
  trainSplit: string;
  validationSplit: string;
  earlyStopping?: EarlyStoppingSpec;
  augment?: AugmentSpec;
  workers: 'auto' | number;
  timeBudget?: string | number;
  precision: 'fp32' | 'bf16' | 'auto';
}

const lr = (description: string, dflt?: number) => ({
  type: 'number',
  exclusiveMinimum: 0,
  description,
  ...(dflt === undefined ? {} : { default: dflt }),
});

export default defineStage<TrainParams>({
  name: 'train',
  version: '1',
  description: 'Trains a model on the training split (categorical cross-entropy), validating and checkpointing every epoch.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      optimizer: {
        type: 'object',
        description: 'Optimiser and its settings.',
        additionalProperties: false,
        properties: {
          name: {
            enum: ['adam', 'adamw', 'sgd', 'rmsprop'],
            default: 'adam',
            description: 'Update rule. adamw: Adam with decoupled weight decay on the kernels (see weightDecay).',
          },
          learningRate: lr('Initial learning rate.', 0.001),
          momentum: { type: 'number', minimum: 0, exclusiveMaximum: 1, description: 'sgd: momentum (0 = plain SGD); rmsprop: momentum.' },
          beta1: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'adam/adamw: decay of the first-moment average (0.9).' },
          beta2: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'adam/adamw: decay of the second-moment average (0.999).' },
          epsilon: lr('adam/adamw/rmsprop: added to the denominator for stability (1e-7).'),
          rho: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, description: 'rmsprop: decay of the squared-gradient average (0.9).' },
          weightDecay: {
            type: 'number',
            minimum: 0,
            exclusiveMaximum: 1,
            description:
              'adamw: decoupled weight decay (0.01). Before each step every kernel becomes w − lr·weightDecay·w, with the ' +
              "step's scheduled rate, apart from the gradient; biases and batch-norm scales and offsets are not decayed.",
          },
        },
        default: { name: 'adam', learningRate: 0.001 },
      },
      schedule: {
        type: 'object',
        description: 'How the learning rate changes over epochs.',
        additionalProperties: false,
        properties: {
          type: {
            enum: ['none', 'reduce-on-plateau', 'cosine', 'step'],
            default: 'none',
            description: 'none: constant; reduce-on-plateau: × factor after `patience` epochs without val_loss improving; cosine: half cosine down to minLr; step: × factor every `every` epochs.',
          },
          factor: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.5, description: 'reduce-on-plateau/step: multiplier.' },
          patience: { type: 'integer', minimum: 1, default: 3, description: 'reduce-on-plateau: epochs without improvement before reducing.' },
          minLr: { type: 'number', minimum: 0, default: 1e-6, description: 'reduce-on-plateau/cosine: lowest rate.' },
          every: { type: 'integer', minimum: 1, default: 10, description: 'step: epochs between reductions.' },
        },
        default: { type: 'none' },
      },
      labelSmoothing: {
        type: 'number',
        minimum: 0,
        exclusiveMaximum: 1,
        default: 0,
        description: 'Targets become (1 − s)·one-hot + s/classes.',
      },
      batchSize: { type: 'integer', minimum: 1, default: 64, description: 'Images per optimisation step.' },
      epochs: { type: 'integer', minimum: 1, default: 32, description: 'Passes over the training split.' },
      classWeights: {
        description:
          "Loss weight per class: 'none', 'balanced' (n / (classes × count), from the training split's counts) or a map {className: weight} (unnamed classes keep 1).",
        oneOf: [
          { enum: ['none', 'balanced'] },
          { type: 'object', additionalProperties: { type: 'number', minimum: 0 } },
        ],
        default: 'none',
      },
      trainSplit: { type: 'string', default: 'train', description: 'Split whose rows are trained on.' },
      validationSplit: {
        type: 'string',
        default: 'validation',
        description: 'Split evaluated after every epoch (val_loss, val_accuracy); validation is skipped when the dataset has no such rows.',
      },
      earlyStopping: {
        type: 'object',
        description: 'Stop when the monitored value stops improving, and/or keep the best epoch’s weights.',
        additionalProperties: false,
        properties: {
          monitor: { enum: ['val_loss', 'val_accuracy'], default: 'val_loss', description: 'Value watched (loss/accuracy on training data when there is no validation).' },
          patience: { type: 'integer', minimum: 0, default: 5, description: 'Epochs without improvement before stopping; 0 never stops early.' },
          restoreBest: { type: 'boolean', default: true, description: 'End with the weights of the best epoch instead of the last.' },
        },
      },
      timeBudget: {
        description:
          'Wall-clock limit on training, e.g. "1h50m", "90m", "45s", or a number of minutes. When it is spent the epoch in ' +
          'progress ends at the next batch and is validated, and training stops. Unless earlyStopping says otherwise, ' +
          'the weights of the epoch with the best val_accuracy are kept (the validation split, never the test split). A cosine ' +
          'schedule is fitted to the epochs the budget allows when they are fewer than `epochs`.',
        oneOf: [
          { type: 'number', exclusiveMinimum: 0 },
          { type: 'string', pattern: DURATION_PATTERN, minLength: 2 },
        ],
      },
      workers: {
        anyOf: [{ const: 'auto' }, { type: 'integer', minimum: 1, maximum: 16 }],
        default: 'auto',
        description:
          "Threads that share each batch (data-parallel: each computes gradients on a slice, averaged before one optimiser step). 'auto': 1 on native TensorFlow and on wasm with oneDNN, which spread each step over every core themselves; 2 on wasm with OpenBLAS or XNNPACK and on cpu, which run one core each. Batch-norm statistics are then per slice, so the worker count is part of the result.",
      },
      precision: {
        enum: ['fp32', 'bf16', 'auto'],
        default: 'fp32',
        description:
          "What the training steps' convolutions and matrix products multiply in. fp32: float32 throughout. bf16: their inputs " +
          '(activations, weights, gradients) rounded to bfloat16 (8-bit mantissa), products accumulated and written in float32: ' +
          'the paper CNN\'s convolutions ran 1.75× and its training step 1.5× as fast; only on the wasm backend with oneDNN on a CPU whose oneDNN instruction set is avx512_core_bf16 ' +
          'or above; elsewhere it runs fp32 and warns. auto: bf16 where available, else fp32. Weights, the optimiser, batch norm, ' +
          'pooling and validation stay float32. The precision used is in the summary, the history and the model folder, where evaluate\'s `precision: auto` finds it.',
      },
      augment: {
        type: 'object',
        description: 'Random changes to each training image, drawn anew every epoch (seeded).',
        additionalProperties: false,
        properties: {
          flipHorizontal: { type: 'boolean', default: false, description: 'Mirror left-right with probability 1/2.' },
          shift: { type: 'number', minimum: 0, maximum: 0.5, default: 0, description: 'Largest shift as a fraction of width/height.' },
          rotation: { type: 'number', minimum: 0, maximum: 180, default: 0, description: 'Largest rotation in degrees, either way.' },
          zoom: { type: 'number', minimum: 0, exclusiveMaximum: 1, default: 0, description: 'Largest zoom change: scale in [1 − zoom, 1 + zoom].' },
          erase: {
            type: 'number',
            minimum: 0,
            maximum: 1,
            default: 0,
            description:
              'Probability of random erasing: one rectangle of 2–33% of the image (aspect 0.3–3.3) set to 0, the mean of standardised images. A regulariser for nets that overfit.',
          },
        },
      },
    },
  },
  inputs: {
    model: { description: 'Model folder from build-model (or a previous train).', accepts: ['model'] },
    data: { description: 'Image dataset (Arrow) with a training split, ideally a validation split.', accepts: ['dataset'] },
  },
  outputs: {
    model: { file: 'model/', kind: 'model', description: "Trained model in TensorFlow.js layers format (model.json + weights.bin); model.json's userDefinedMetadata.training.precision records the precision it was trained in." },
    history: { file: 'history.json', kind: 'history', description: 'Per-epoch loss, accuracy, val_loss, val_accuracy, lr, seconds.' },
  },
  runtime: ['seed', 'tensorflow'],
  // The trained model takes the images the given one does, and must take those the data holds.
  facts: (_params, inputs) => ({
    outputs: { model: inputs.model },
    problems: modelDataMismatch(inputs, 'model', 'data'),
  }),
  gateMetrics: () => ({
    summary: ['epochs', 'bestEpoch', 'finalValAccuracy', 'bestValAccuracy', 'finalAccuracy', 'imagesPerSecond', 'resumedFromEpoch'],
  }),
  async run(ctx) {
    const p = ctx.params;
    const { loadTf, defaultReplicas, resolvePrecision } = await import('../src/tf/backend.js');
    const { readDataset, rowsOfSplit, classCounts } = await import('../src/data/image-dataset.js');
    const { transformOf } = await import('../src/data/normalisation.js');
    const { loadModel, saveModel } = await import('../src/model/model-io.js');
    const { classWeightsFor } = await import('../src/model/class-weights.js');
    const { train, trainFingerprint } = await import('../src/train/loop.js');
    const { checkModelFitsData } = await import('../src/model/compatibility.js');

    const { tf, backend, kernels } = await loadTf(ctx.backend);
    const { precision, warning } = await resolvePrecision(backend, p.precision);
    if (warning) ctx.log.warn(warning);
    const ds = await readDataset(ctx.inputs.data.path);
    const trainRows = rowsOfSplit(ds, p.trainSplit);
    if (trainRows.length === 0) {
      throw new PipeError(`train: the dataset has no rows in split '${p.trainSplit}'`, {
        hint: `its splits are: ${ds.splitNames.join(', ') || '(none)'}; set trainSplit or add a split stage upstream`,
      });
    }
    const validationRows = p.validationSplit === p.trainSplit ? new Uint32Array(0) : rowsOfSplit(ds, p.validationSplit);
    if (validationRows.length === 0) {
      ctx.log.info(`validation skipped: the dataset has no rows in split '${p.validationSplit}' (its splits: ${ds.splitNames.join(', ')})`);
    }
    const timeBudgetSeconds = p.timeBudget === undefined ? undefined : durationSeconds(p.timeBudget);
    if (p.timeBudget !== undefined && timeBudgetSeconds === undefined) {
      throw new PipeError(`train: timeBudget '${p.timeBudget}' is not a positive duration`, { hint: 'write e.g. "1h50m", "90m", "45s", or a number of minutes' });
    }
    // With a time budget, the last epoch is whatever the clock allows: keep the best one by validation accuracy.
    const earlyStopping = p.earlyStopping ?? (timeBudgetSeconds ? { monitor: 'val_accuracy' as const, patience: 0, restoreBest: true } : undefined);
    const counts = classCounts(ds)[p.trainSplit];
    const classWeights = classWeightsFor(p.classWeights, ds.classes, counts);
    if (classWeights) ctx.log.info(`class weights: ${ds.classes.map((c, i) => `${c}=${classWeights[i].toFixed(3)}`).join(', ')}`);

    const modelJson = await readFile(join(ctx.inputs.model.path, 'model.json'));
    const model = await loadModel(tf, ctx.inputs.model.path);
    try {
      checkModelFitsData(model, ds, 'train');
      const schedule = { ...p.schedule } as ScheduleSpec;
      const started = performance.now();
      const result = await train(
        {
          tf,
          model,
          dataset: ds,
          transform: transformOf(ds.metadata),
          trainRows,
          validationRows,
          seed: ctx.seed,
          scratchDir: ctx.scratchDir,
          signal: ctx.signal,
          log: ctx.log,
          progress: ctx.progress,
          fingerprint: trainFingerprint({
            params: p,
            // auto resolves per machine: a checkpoint carries on only in the precision it was trained in.
            ...(precision !== 'fp32' ? { precision } : {}),
            seed: ctx.seed,
            backend,
            modelDigest: (await import('node:crypto')).createHash('sha256').update(modelJson).digest('hex'),
          }),
        },
        {
          optimizer: p.optimizer,
          schedule,
          labelSmoothing: p.labelSmoothing,
          batchSize: p.batchSize,
          epochs: p.epochs,
          classWeights,
          earlyStopping,
          augment: p.augment,
          timeBudgetSeconds,
          replicas: p.workers === 'auto' ? await defaultReplicas(backend) : p.workers,
          precision,
        },
      );
      // Whoever infers with the model later (evaluate, `pipe predict`) reads the precision it was trained in.
      await saveModel(tf, model, ctx.output('model'), { training: { precision } });
      const last = result.history[result.history.length - 1];
      const best = result.bestEpoch ? result.history[result.bestEpoch - 1] : undefined;
      const { writeHistory } = await import('../src/formats/history.js');
      await writeHistory(ctx.output('history'), {
        epochs: result.history,
        bestEpoch: result.bestEpoch,
        monitor: result.monitor,
        stoppedEarly: result.stoppedEarly,
        stoppedOnTime: result.stoppedOnTime,
        trainingSeconds: result.trainingSeconds,
        restoredBest: result.restoredBest,
        resumedFromEpoch: result.resumedFromEpoch,
        classWeights,
        backend,
        kernels,
        precision,
        trainSplit: p.trainSplit,
        validationSplit: validationRows.length > 0 ? p.validationSplit : null,
        trainRows: trainRows.length,
        validationRows: validationRows.length,
      });
      const seconds = (performance.now() - started) / 1000;
      const trainedEpochs = result.history.length - (result.resumedFromEpoch ?? 0);
      return {
        epochs: result.history.length,
        bestEpoch: result.bestEpoch,
        finalValAccuracy: last?.val_accuracy ?? null,
        bestValAccuracy: best?.val_accuracy ?? null,
        finalAccuracy: last?.accuracy ?? null,
        imagesPerSecond: trainedEpochs > 0 ? Math.round((trainedEpochs * trainRows.length) / seconds) : null,
        stoppedEarly: result.stoppedEarly,
        stoppedOnTime: result.stoppedOnTime,
        resumedFromEpoch: result.resumedFromEpoch,
        backend,
        kernels,
        precision,
      };
    } finally {
      model.dispose();
    }
  },
});
