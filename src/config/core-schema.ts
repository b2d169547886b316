// JSON Schema of a pipeline file without any stage's params: what the runner itself understands.
// The editor schema (schemas/pipeline.schema.json) is this plus every built-in stage's params.
import type { JsonSchema } from '../stage.js';

export const STAGE_ID_PATTERN = '^[a-z][a-z0-9-_]*$';
export const BACKENDS = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
/** `uses:` value that names a module file next to the pipeline rather than a built-in stage. */
export const STAGE_PATH_PATTERN = '^\\.\\.?/.+\\.(ts|mts|js|mjs)$';
/** A `runs-on` label: what a worker or CI runner must offer to take a stage (e.g. gpu, big-mem). */
export const RUNNER_LABEL_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]*$';

export const stageEntrySchema: JsonSchema = {
  type: 'object',
  description: 'One step of the pipeline: which stage type it uses, its params and where its inputs come from.',
  additionalProperties: false,
  required: ['uses'],
  properties: {
    uses: {
      type: 'string',
      minLength: 1,
      description: 'The stage type: a built-in stage name (e.g. split), or a path to a stage module relative to this file (e.g. ./stages/crop.ts).',
    },
    description: { type: 'string', description: 'What this step is for, in words (shown by `pipe dag`).' },
    with: {
      type: 'object',
      description: "The stage's params; each stage type has its own schema.",
    },
    inputs: {
      type: 'object',
      description: 'Input name -> upstream stage id ("split"), or stage id and output name ("split.train").',
      // No pattern here: the graph check says which stage or output a bad reference fails to name.
      additionalProperties: { type: 'string' },
    },
    'runs-on': {
      type: 'array',
      description:
        'Labels a machine must have to run this step (e.g. [gpu]): queue workers started with these labels, or the CI runners a plan sends it to. Not part of the cache key: where a stage runs does not change its outputs.',
      uniqueItems: true,
      items: { type: 'string', pattern: RUNNER_LABEL_PATTERN },
    },
  },
};

export const coreSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'stages'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'Name of the pipeline, shown in runs and reports.' },
    description: { type: 'string', description: 'What the pipeline does and why, in words.' },
    seed: {
      type: 'integer',
      minimum: 0,
      // Weight initialisers take 32-bit seeds; a larger one would give the weights of a smaller one (and past
      // 2^53 two seeds written differently are the same number, so the same cache key).
      maximum: 4294967295,
      default: 42,
      description: 'Seed for every random choice (shuffles, splits, weight init), 0 to 4294967295 (2^32 - 1); part of the cache key of stages that use it.',
    },
    backend: {
      enum: [...BACKENDS],
      default: 'auto',
      description: 'TensorFlow.js backend: auto picks the fastest that works here (tensorflow, then wasm, then cpu).',
    },
    cache: {
      description:
        'Where artifacts are cached: a folder (relative to this file), or { dir, remote, timeout }. Default: artifacts/ in the working directory; PIPE_ARTIFACTS and PIPE_REMOTE_CACHE override.',
      anyOf: [
        { type: 'string', minLength: 1, description: 'Folder of the local artifact store, relative to this file.' },
        {
          type: 'object',
          additionalProperties: false,
          properties: {
            dir: { type: 'string', minLength: 1, description: 'Folder of the local artifact store, relative to this file.' },
            remote: {
              type: 'string',
              pattern: '^(s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?|file:///.*)$',
              description:
                'A shared remote cache: s3://bucket/prefix on S3-compatible storage, or file:///path of a folder every machine mounts (NFS, SMB). Stages missing here are fetched from it. Read-only unless PIPE_REMOTE_CACHE_WRITE=1 (set that only where builds are trusted, e.g. on the main branch).',
            },
            timeout: {
              type: 'number',
              exclusiveMinimum: 0,
              description: 'Seconds to wait for each answer of the remote before running locally (default 30; PIPE_REMOTE_CACHE_TIMEOUT overrides).',
            },
          },
        },
      ],
    },
    sweep: {
      type: 'object',
      description:
        'Variants to run: each key is a value path as --set takes it (train.optimizer.learningRate), each value the list of values to try. The variants are the cross product; stages they share run once.',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z0-9_.\\[\\]-]+$' },
      additionalProperties: { type: 'array', minItems: 1 },
    },
    gates: {
      type: 'object',
      description: 'Conditions on the run\'s metrics that fail it (exit code 3), for CI; `pipe run --fail-if` adds more.',
      additionalProperties: false,
      properties: {
        failIf: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          description:
            "Each '<metric> <op> <number>' fails the run when it holds, e.g. 'test.accuracy < 0.6'; '<metric> <op> baseline - <number>' compares with the run given by `pipe run --baseline`. Metrics: <split>.accuracy, .balancedAccuracy, .macroF1, .loss; <stage>.<split>.<metric>; <stage>.<summary field>; leakage.leaky (0 or 1). A metric that no stage reports is refused before the run.",
        },
      },
    },
    stages: {
      type: 'object',
      description: 'The steps of the pipeline by id (lowercase letters, digits, - and _). Order follows inputs, not this list.',
      minProperties: 1,
      propertyNames: { pattern: STAGE_ID_PATTERN },
      additionalProperties: { $ref: '#/definitions/stage' },
    },
  },
  definitions: { stage: stageEntrySchema },
};

/** Keys allowed at the top level of a pipeline file. */
export const TOP_LEVEL_KEYS = Object.keys(coreSchema.properties as object);
