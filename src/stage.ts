// The contract between the runner core and a stage module.
// A stage is a plain object, like a Vite/Rollup plugin: a name, a version, a JSON Schema for its
// params, the inputs it takes and the outputs it writes, and `run(ctx)`. The core knows no stage by name.
import type { Logger } from 'pino';

/** JSON Schema (draft 2020-12 subset that ajv understands). */
export type JsonSchema = Record<string, unknown>;

/**
 * What an output holds, so that `pipe validate` can refuse a wire from one stage's output to an input that
 * cannot read it (a summary JSON wired into a model input). Built-in kinds: 'dataset' (Arrow image dataset),
 * 'model' (TensorFlow.js layers-model folder), 'model-summary', 'history' (per-epoch training history),
 * 'metrics', 'leakage' (duplicate report), 'report' (HTML), 'charts' (a folder of images), 'text'.
 * Stages of your own may use these or name kinds of their own.
 */
export type ArtifactKind = string;

export interface InputSpec {
  description: string;
  /** An optional input may be left out of the pipeline; ctx.inputs then lacks it. */
  optional?: boolean;
  /** The kinds of output this input can read; every wire to it is checked. Leave out to accept any output. */
  accepts?: ArtifactKind[];
}

export interface OutputSpec {
  /** File name inside the stage's output directory, e.g. "data.arrow" or "model/" for a folder. */
  file: string;
  description: string;
  /** What the output holds (see ArtifactKind); an output without one is not checked against `accepts`. */
  kind?: ArtifactKind;
}

/** A problem in a stage's params that its JSON Schema cannot express, at a path inside the params. */
export interface ParamProblem {
  /** Path inside `with:`, e.g. ['layers', 3, 'conv2d']. */
  at: (string | number)[];
  message: string;
  hint?: string;
}

/** An image's [height, width, channels]. */
export type ImageShape = [number, number, number];

/**
 * What `pipe validate` can tell about an output from params alone, before anything runs (see Stage.facts).
 * An open record: a fact left out is unknown and goes unchecked. Built-in facts: `imageShape` (a dataset's
 * images) and `inputShape` (the images a model takes).
 */
export interface OutputFacts {
  imageShape?: ImageShape;
  inputShape?: ImageShape;
  /** The stage and params that set these facts, for messages; a stage that passes facts on keeps it. */
  source?: FactSource;
  [fact: string]: unknown;
}

export interface FactSource {
  /** Id of the stage whose params set the facts. */
  stage: string;
  /** Those params by name: what to change to change the facts. */
  params: string[];
  /** How they read in a message, e.g. "size 48, grey". */
  says: string;
}

/**
 * A problem Stage.facts found. Reported at the `inputs:` entry of `input` when given, else at the param `at`
 * when given, else at the stage.
 */
export interface FactProblem {
  message: string;
  hint?: string;
  input?: string;
  at?: (string | number)[];
}

/**
 * Facts outside params and inputs that change a stage's result. The core adds each one to the cache key.
 * - 'seed': the pipeline seed.
 * - 'tensorflow': the resolved tfjs backend name, the tfjs version and the kernels its convolutions run on
 *   (oneDNN, OpenBLAS or XNNPACK on wasm: they round differently), and whether they run bf16 natively here
 *   (what the `precision: auto` of a train or an evaluate stage resolves by).
 * - 'pipeline': the pipeline's name and resolved backend, for stages (a report) that show them.
 */
export type RuntimeFact = 'seed' | 'tensorflow' | 'pipeline';

export interface ProgressReporter {
  /** One line of what the stage is doing now, e.g. "epoch 3/32 · batch 120/450 · loss 1.23 · ETA 4m". */
  update(message: string): void;
  /**
   * A line worth keeping, e.g. "epoch 3/32 · loss 1.10 · acc 0.58 · val_loss 1.21 · val_acc 0.55 · 12.3 s" or
   * "resuming from epoch 4": printed as its own line in plain output (CI, a pipe) and never throttled.
   */
  note?(message: string): void;
}

export interface InputArtifact {
  /** Absolute path of the upstream output (file or folder), read-only. */
  path: string;
  /** The upstream stage's id in this pipeline. */
  stage: string;
  /** The upstream output's name. */
  output: string;
  /** Absolute path of the upstream stage's whole output directory (for stages that read several files). */
  dir: string;
}

export interface StageContext<P = Record<string, unknown>> {
  /** This stage's id in the pipeline (the key under `stages:`). */
  id: string;
  /** Params after defaults from the stage's schema and `--set` overrides were applied. */
  params: P;
  /** Resolved inputs by input name. */
  inputs: Record<string, InputArtifact>;
  /** Absolute path where output `name` must be written (inside a temporary directory until the stage succeeds). */
  output(name: string): string;
  /** The temporary output directory itself; extra files written here are stored too. */
  outDir: string;
  /**
   * A directory that survives a failed or killed run of this exact stage instance (same cache key) and is
   * removed once the stage's outputs are stored. For checkpoints that let long work resume.
   */
  scratchDir: string;
  /** Resolve a path the user wrote in the pipeline (relative to the pipeline file's folder). */
  resolvePath(p: string): string;
  /** Pipeline-wide seed. */
  seed: number;
  /** The TensorFlow.js backend this run uses ('tensorflow' | 'wasm' | 'cpu'), resolved from the pipeline's or `--backend`'s request. */
  backend: 'tensorflow' | 'wasm' | 'cpu';
  log: Logger;
  progress: ProgressReporter;
  /** Aborted when the user interrupts the run (Ctrl-C); long stages should stop at a safe point. */
  signal: AbortSignal;
  /**
   * Facts about the pipeline, for stages (like a report) that describe it. Only facts the stage's cache key
   * covers: an entry is reused by later runs and other machines, so nothing run-specific (run id, times,
   * which stages came from the cache) may end up in it.
   */
  pipeline: PipelineInfo;
}

export interface PipelineInfo {
  /** `name:` of the pipeline (in the key of stages that declare the 'pipeline' runtime fact). */
  name: string;
  /** Backend requested and the one TensorFlow.js stages resolve it to. */
  backend: { requested: string; resolved: string };
  /** The stages this one depends on, directly or through others, in execution order. */
  upstream: Record<string, { uses: string; key: string; params: Record<string, unknown> }>;
}

/** What `run` may return: a small JSON-able summary stored in the manifest and shown by `pipe status`/reports. */
export type StageSummary = Record<string, unknown> | void;

export interface Stage<P = any> {
  /** Type name used in `uses:`; kebab-case. */
  name: string;
  /** Bump when the stage's behaviour changes in a way its source hash would not show. */
  version: string;
  description: string;
  /**
   * JSON Schema of `with:`. Properties marked `"x-pipe-path": "file"`, `"dir"` or `"listing"` (a file naming files in its folder) are paths the stage
   * reads; the core hashes their content into the cache key.
   */
  params: JsonSchema;
  inputs: Record<string, InputSpec>;
  outputs: Record<string, OutputSpec>;
  runtime?: RuntimeFact[];
  /**
   * Optional: checks of the params beyond their schema (which has already passed), run by `pipe validate` and
   * before anything runs. Must be quick and free of I/O; return no problems when the params are fine.
   */
  check?(params: P): ParamProblem[];
  /**
   * Optional: what its outputs will hold, told from its params and the facts of the outputs wired to its inputs
   * (undefined where unknown, in what it returns too), and the problems those facts show (a model that takes
   * other images than its data holds). Run by `pipe validate` and before anything runs, once per stage in
   * execution order, after its params passed their schema and `check`. Must be quick and free of I/O.
   */
  facts?(
    params: P,
    inputs: Record<string, OutputFacts | undefined>,
    stage: { id: string },
  ): { outputs?: Record<string, OutputFacts | undefined>; problems?: FactProblem[] };
  /**
   * Optional: the numbers a run of this stage reports, so that a CI gate naming a misspelt metric is refused
   * before anything runs (src/config/gates.ts). `splits`: the splits its metrics.json holds; `summary`: the
   * numeric fields `run` returns. A stage without it leaves the names of its metrics unchecked until the run ends.
   */
  gateMetrics?(params: P): { splits?: string[]; summary?: string[] };
  run(ctx: StageContext<P>): Promise<StageSummary>;
}

/** Identity helper that gives stage authors type checking. */
export function defineStage<P>(stage: Stage<P>): Stage<P> {
  return stage;
}
