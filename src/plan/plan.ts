// Planning: the stage graph in execution order and each stage instance's cache key.
// A key digests everything that can change a stage's output (Bazel/Turborepo style) and nothing that cannot:
// stage type, declared version and source hash, params, upstream keys, content of files it reads, runtime facts.
// No absolute path or time enters a key, so a cache copied to another checkout or CI machine still hits.
import { createHash } from 'node:crypto';
import { relative, resolve } from 'node:path';
import { PipeError } from '../errors.js';
import type { Stage } from '../stage.js';
import { canonicalJson } from './canonical-json.js';
import { findPathParams, replaceAt } from './path-params.js';
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
}

export interface PipelineForPlan {
  /** Absolute path of the pipeline file. */
  file: string;
  /** Folder that relative paths in the pipeline resolve against. */
  dir: string;
  name: string;
  seed: number;
  backend: string;
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

/** Hashes external files and folders; the store supplies one with a stat cache. */
export interface ContentHasher {
  hashFile(path: string): Promise<string>;
  hashDir(path: string): Promise<string>;
}

/** Facts about this installation that some stages' results depend on (e.g. the tfjs backend). */
export type RuntimeFacts = (stage: StageInstance) => Record<string, string | number>;

export function sha256(text: string | Uint8Array): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Execution order of the stages: each after all of its upstream stages. */
export function topologicalOrder(stages: Record<string, Pick<StageInstance, 'inputs'>>): string[] {
  const ids = Object.keys(stages);
  const remaining = new Map(ids.map((id) => [id, new Set(Object.values(stages[id].inputs).map((i) => i.stage))]));
  const order: string[] = [];
  while (remaining.size > 0) {
    const ready = ids.find((id) => remaining.has(id) && [...remaining.get(id)!].every((u) => !remaining.has(u)));
    if (!ready) {
      const stuck = [...remaining.keys()].join(', ');
      throw new PipeError(`the stages ${stuck} depend on each other in a cycle`, {
        hint: 'a stage cannot take its own output, directly or through others, as input',
      });
    }
    order.push(ready);
    remaining.delete(ready);
  }
  return order;
}

function formatLocation(at: (string | number)[]): string {
  return at.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

export async function planPipeline(pipeline: PipelineForPlan, hasher: ContentHasher, runtimeFacts: RuntimeFacts): Promise<Plan> {
  const order = topologicalOrder(pipeline.stages);
  const stages: Record<string, PlannedStage> = {};
  for (const id of order) {
    const instance = pipeline.stages[id];
    const pathParams = findPathParams(instance.stage.params, instance.params);
    const files: Record<string, string> = {};
    const filePaths: Record<string, string> = {};
    for (const p of pathParams) {
      const location = formatLocation(p.at);
      const absolute = resolve(pipeline.dir, p.value);
      filePaths[location] = relative(process.cwd(), absolute) || '.';
      try {
        files[location] = p.kind === 'dir' ? await hasher.hashDir(absolute) : await hasher.hashFile(absolute);
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
      runtime: runtimeFacts(instance),
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

/** Every stage downstream of `ids` (inclusive). */
export function downstreamOf(plan: Plan, ids: Iterable<string>): Set<string> {
  const out = new Set(ids);
  for (const id of plan.order) if (plan.stages[id].upstream.some((u) => out.has(u))) out.add(id);
  return out;
}

/** `ids` and every stage they depend on. */
export function upstreamOf(plan: Plan, ids: Iterable<string>): Set<string> {
  const out = new Set(ids);
  for (const id of [...plan.order].reverse()) if (out.has(id)) for (const u of plan.stages[id].upstream) out.add(u);
  return out;
}
