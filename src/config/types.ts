// The shapes of a pipeline once it has been read, checked and resolved.
import type { Stage } from '../stage.js';
import type { PathParam } from './ajv.js';
import type { SourceFile } from './source.js';

/** The pipeline's `cache:` setting, paths made absolute. */
export interface CacheSettings {
  /** Folder of the local store. */
  dir?: string;
  /** s3://bucket/prefix or file:///path of a remote cache. */
  remote?: string;
  /** Seconds to wait for each answer of the remote. */
  timeout?: number;
}

export type { PathParam };

export type Backend = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

/** One entry under `stages:` as written (after `--set` overrides; `with` has the stage's defaults applied). */
export interface StageSpec {
  uses: string;
  description?: string;
  with?: Record<string, unknown>;
  inputs?: Record<string, string>;
  /** Labels a machine must have to run this stage; not part of the cache key. */
  'runs-on'?: string[];
}

/** The pipeline file's content, typed, with defaults applied. */
export interface PipelineSpec {
  name: string;
  description?: string;
  seed: number;
  backend: Backend;
  /** Artifact store folder as written (relative to the pipeline file), or the folder and a remote cache. */
  cache?: string | { dir?: string; remote?: string; timeout?: number };
  /** Value path (as --set takes it) -> values to try; the variants are the cross product. */
  sweep?: Record<string, unknown[]>;
  /** CI gates (src/config/gates.ts). */
  gates?: { failIf?: string[] };
  stages: Record<string, StageSpec>;
}

/** Where one input of a stage comes from. */
export interface InputRef {
  stage: string;
  output: string;
}

export interface ResolvedStage {
  /** Key under `stages:`. */
  id: string;
  /** As written in `uses:`. */
  uses: string;
  /** Validated params with defaults (the same object as spec.stages[id].with). */
  params: Record<string, unknown>;
  /** Every input given in the file, resolved to an upstream stage and output. */
  inputs: Record<string, InputRef>;
  stage: Stage;
  /** Absolute path of the module file the stage was loaded from. */
  modulePath: string;
  /**
   * Params marked `x-pipe-path` that hold a value. Relative values are relative to the pipeline's folder
   * (values from `--set` were made absolute against the working directory).
   */
  pathParams: PathParam[];
}

export interface LoadedPipeline {
  /** Absolute path of the pipeline file. */
  file: string;
  /** Folder of the pipeline file: relative paths in it resolve against this. */
  dir: string;
  spec: PipelineSpec;
  stages: Record<string, ResolvedStage>;
  /** Stage ids in an order where every stage comes after the stages it reads from (file order otherwise). */
  order: string[];
  /** The file's `cache:` setting, paths absolute (src/store/open-store.ts builds the store from it). */
  cacheSettings: CacheSettings;
  /** The parsed file, to point later errors (e.g. a missing input file) at their line. */
  source: SourceFile;
}

export interface LoadOptions {
  /** `--set path=value` texts, applied in order. */
  sets?: string[];
  /** Folder whose `<name>.js` files are the built-in stages (default: the compiled stages/ of this package). */
  builtinDir?: string;
  /** Folder `--set` paths are relative to (default: process.cwd()). */
  cwd?: string;
  /**
   * Called with the module of each stage (by stage id, `--set` applied) before any is imported; a throw ends
   * the load with nothing imported.
   */
  beforeImport?: (modules: Readonly<Record<string, StageModule>>) => Promise<void>;
}

/** A stage's `uses:` and the file it names. */
export interface StageModule {
  uses: string;
  modulePath: string;
}
