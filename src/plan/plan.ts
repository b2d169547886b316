// Planning: the stage graph in execution order and each stage instance's cache key.
// A key digests everything that can change a stage's output (Bazel/Turborepo style) and nothing that cannot:
// stage type, declared version and source hash, params, upstream keys, content of files it reads, runtime facts.
// No absolute path or time enters a key, so a cache copied to another checkout or CI machine still hits.
import { createHash } from 'node:crypto';
import { dirname, relative, resolve } from 'node:path';
import { PipeError } from '../errors.js';
import type { PathParam } from '../config/ajv.js';
import { topologicalOrder } from '../config/graph.js';
import type { Stage } from '../stage.js';
import type { BackendName, BackendRequest } from '../tf/backend.js';
import { canonicalJson } from './canonical-json.js';
import { moduleTreeHash } from './code-hash.js';

export interface StageInstance {
  id: string;
  uses: string;
  stage: Stage;
  /** Params with defaults applied. */
  params: Record<string, unknown>;
  /** input name -> upstream stage id and output name */
  inputs: Record<string, { stage: string; output: string }>;
  /** Absolute path of the module the stage was loaded from. */
  modulePath: string;
  /** Params the stage reads from disk, as collected while validating them (src/config/ajv.ts). */
  pathParams: PathParam[];
}

export interface PipelineForPlan {
  /** Absolute path of the pipeline file. */
  file: string;
  /** Folder that relative paths in the pipeline resolve against. */
  dir: string;
  name: string;
  seed: number;
  /** Requested in the pipeline or with --backend, and what it resolves to here (resolved once per run). */
  backend: { requested: BackendRequest; resolved: BackendName };
  stages: Record<string, StageInstance>;
  /** Builds an error pointing at a value in the pipeline file, when it is there (not from --set). */
  errorAt?(path: (string | number)[], message: string, hint?: string): PipeError | undefined;
}

/** Everything a key is made of, kept so `pipe status` can say what changed. */
export interface KeyParts {
  uses: string;
  version: string;
  /** sha256 of the stage module's source and the local modules it imports. */
  code: string;
  /** Params with path params blanked (their content is in `files`). */
  params: Record<string, unknown>;
  /** Path-param location ("path", "sources[0]") -> sha256 of the file or folder content. */
  files: Record<string, string>;
  /** input name -> "<upstream key>/<output name>" */
  inputs: Record<string, string>;
  runtime: Record<string, string | number>;
}

export interface PlannedStage extends StageInstance {
  key: string;
  keyParts: KeyParts;
  /** Upstream stage ids, deduplicated. */
  upstream: string[];
  /** Path params as the user wrote them, for messages: location -> path relative to the pipeline folder. */
  filePaths: Record<string, string>;
}

export interface Plan {
  pipeline: PipelineForPlan;
  /** Topological order; ties keep the order of the pipeline file. */
  order: string[];
  stages: Record<string, PlannedStage>;
}

/** Hashes external files and folders; the store's input hasher is one (with a stat cache). */
export interface ContentHasher {
  hashFile(path: string): Promise<string>;
  hashDir(path: string): Promise<string>;
}

/** Facts about this installation that some stages' results depend on (e.g. the tfjs backend). */
export type RuntimeFacts = (stage: StageInstance) => Promise<Record<string, string | number>>;

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The stages' execution order (the one order: config/graph.ts). */
export function stageOrder(stages: Record<string, Pick<StageInstance, 'inputs'>>): string[] {
  return topologicalOrder(Object.fromEntries(Object.entries(stages).map(([id, s]) => [id, Object.values(s.inputs).map((i) => i.stage)])));
}

/** A copy of params with the value at each location replaced. */
function replaceAt(params: Record<string, unknown>, replacements: { at: (string | number)[]; value: unknown }[]): Record<string, unknown> {
  const copy = structuredClone(params);
  for (const { at, value } of replacements) {
    let node: any = copy;
    for (let i = 0; i < at.length - 1; i++) node = node[at[i]];
    node[at[at.length - 1]] = value;
  }
  return copy;
}

function formatLocation(at: (string | number)[]): string {
  return at.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export async function planPipeline(pipeline: PipelineForPlan, hasher: ContentHasher, runtimeFacts: RuntimeFacts): Promise<Plan> {
  const order = stageOrder(pipeline.stages);
  const stages: Record<string, PlannedStage> = {};
  for (const id of order) {
    const instance = pipeline.stages[id];
    const pathParams = instance.pathParams;
    const files: Record<string, string> = {};
    const filePaths: Record<string, string> = {};
    for (const p of pathParams) {
      const location = formatLocation(p.at);
      const absolute = resolve(pipeline.dir, p.value);
      filePaths[location] = relative(process.cwd(), absolute) || '.';
      try {
        // A listing names files inside its own folder (the stage refuses any other), so that folder covers them.
        files[location] =
          p.kind === 'dir' ? await hasher.hashDir(absolute) : p.kind === 'listing' ? `${await hasher.hashFile(absolute)}:${await hasher.hashDir(dirname(absolute))}` : await hasher.hashFile(absolute);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const message =
          code === 'ENOENT'
            ? `stage '${id}': ${location}: ${p.kind} not found: ${filePaths[location]}`
            : `stage '${id}': ${location}: cannot read ${filePaths[location]}: ${(err as Error).message}`;
        const hint = [findHint(instance.stage.params, p.at), `fix the path in the pipeline, or give it: --set ${id}.${location}=<path>`]
          .filter(Boolean)
          .join('\n      ');
        throw pipeline.errorAt?.(['stages', id, 'with', ...p.at], message, hint) ?? new PipeError(message, { hint });
      }
    }
    const inputs: Record<string, string> = {};
    for (const [name, ref] of Object.entries(instance.inputs)) inputs[name] = `${stages[ref.stage].key}/${ref.output}`;
    const keyParts: KeyParts = {
      uses: instance.stage.name,
      version: instance.stage.version,
      code: await moduleTreeHash(instance.modulePath),
      params: replaceAt(instance.params, pathParams.map((p) => ({ at: p.at, value: null }))),
      files,
      inputs,
      runtime: await runtimeFacts(instance),
    };
    stages[id] = {
      ...instance,
      key: sha256(canonicalJson(keyParts)),
      keyParts,
      upstream: [...new Set(Object.values(instance.inputs).map((i) => i.stage))],
      filePaths,
    };
  }
  return { pipeline, order, stages };
}

/** A stage schema may carry `"x-pipe-hint"` next to a path param: advice shown when the file is missing. */
function findHint(schema: Record<string, unknown>, at: (string | number)[]): string | undefined {
  let node: any = schema;
  for (const part of at) {
    if (!node) return undefined;
    node = typeof part === 'number' ? node.items : node.properties?.[part];
  }
  return typeof node?.['x-pipe-hint'] === 'string' ? node['x-pipe-hint'] : undefined;
}

/** `ids` and every stage they depend on. */
export function upstreamOf(plan: Plan, ids: Iterable<string>): Set<string> {
  const out = new Set(ids);
  for (const id of [...plan.order].reverse()) if (out.has(id)) for (const u of plan.stages[id].upstream) out.add(u);
  return out;
}
