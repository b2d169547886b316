// Reads a pipeline file into a checked, typed, resolved pipeline: YAML with source positions, `--set`
// overrides, the core schema, each stage's own param schema, and the input graph. Every problem in the
// file is collected and reported at once, each at its file:line:column.
import { isUtf8 } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { PipeError, PipeErrors } from '../errors.js';
import type { Stage } from '../stage.js';
import { validatorFor, validateWithPaths, type PathParam } from './ajv.js';
import { problemsFromAjv } from './ajv-errors.js';
import { coreSchema } from './core-schema.js';
import { deriveFacts, type FactsStage } from './facts.js';
import { gateCatalogue, GATE_SYNTAX_HINT, parseGate, unknownGateMetric, type GateCatalogue } from './gates.js';
import { findCycles, resolveInputs, topologicalOrder, type GraphStage } from './graph.js';
import { applyOverride, defineOwn, fitOverrideValue, OverrideError, overrideFor, parseOverride, schemaAt, type Override } from './overrides.js';
import type { Problem } from './problem.js';
import { SourceFile } from './source.js';
import { BUILTIN_STAGES_DIR, loadStage, stageModulePath, type LoadedStage } from './stage-loader.js';
import type { LoadedPipeline, LoadOptions, PipelineSpec, ResolvedStage, StageModule, StageSpec } from './types.js';

type Json = Record<string, unknown>;

function isMapping(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The path as the user should see it: relative to the working directory when inside it. */
function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

function setAt(root: Json, path: readonly string[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key] as Json;
  defineOwn(node, path[path.length - 1], value);
}

function getAt(root: Json, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const key of path) node = isMapping(node) && Object.hasOwn(node, key) ? node[key] : undefined;
  return node;
}

/**
 * The file's text. Bytes that are not UTF-8 (a Latin-1 file, binary garbage) would otherwise become U+FFFD
 * silently and change values unseen: refuse them at the first bad byte.
 */
function decodeUtf8(bytes: Buffer, shown: string): string {
  if (isUtf8(bytes)) return bytes.toString('utf8').replace(/^\uFEFF/, '');
  // The longest valid prefix ends at the first bad byte; count lines and characters up to it.
  let good = 0;
  for (let step = 1 << 20; step >= 1; step >>= 1) {
    while (good + step <= bytes.length && isUtf8Prefix(bytes.subarray(0, good + step))) good += step;
  }
  // A character cut short by the bad byte starts the bad sequence.
  while (good > 0 && !isUtf8(bytes.subarray(0, good))) good--;
  const before = bytes.subarray(0, good).toString('utf8');
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.slice(0, lineStart).split('\n').length;
  const column = [...before.slice(lineStart)].length + 1;
  const byte = bytes[Math.min(good, bytes.length - 1)].toString(16).padStart(2, '0');
  throw new PipeError(`the file is not valid UTF-8: byte 0x${byte} at offset ${good}`, {
    location: { file: shown, line, column },
    hint: 'save the pipeline as UTF-8 (e.g. iconv -f latin1 -t utf-8), or remove the stray byte',
  });
}

/** True when `bytes` is valid UTF-8 or valid UTF-8 cut inside its last character. */
function isUtf8Prefix(bytes: Buffer): boolean {
  if (isUtf8(bytes)) return true;
  for (let cut = 1; cut <= 3 && cut < bytes.length; cut++) {
    const lead = bytes[bytes.length - cut];
    if (lead >= 0xc0) return isUtf8(bytes.subarray(0, bytes.length - cut)) && cut < (lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2);
    if (lead < 0x80) return false;
  }
  return false;
}

function overrideError(text: string, message: string, hint?: string): PipeError {
  return new PipeError(`in --set ${text}: ${message}`, { hint });
}

/**
 * Load, check and resolve the pipeline in `file`. Throws PipeErrors listing every problem found
 * (or a single PipeError when the file cannot be read).
 */
export async function loadPipeline(file: string, options: LoadOptions = {}): Promise<LoadedPipeline> {
  const cwd = options.cwd ?? process.cwd();
  const abs = resolve(cwd, file);
  const dir = dirname(abs);
  const builtinDir = options.builtinDir ?? BUILTIN_STAGES_DIR;
  const shown = displayPath(abs, cwd);

  let bytes: Buffer;
  try {
    bytes = await readFile(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PipeError(code === 'ENOENT' ? `pipeline file not found: ${shown}` : `cannot read pipeline file ${shown}: ${(err as Error).message}`, {
      hint: code === 'ENOENT' ? 'check the path; pipelines usually live in pipelines/*.yaml' : undefined,
    });
  }
  const text = decodeUtf8(bytes, shown);
  const source = new SourceFile(shown, text);
  const syntax = source.syntaxErrors();
  if (syntax.length > 0) throw new PipeErrors(syntax);
  const root: unknown = source.toValue();
  if (!isMapping(root)) {
    throw new PipeErrors([
      source.errorAt(
        root === null || root === undefined ? 'the pipeline file is empty' : 'a pipeline file must be a mapping (key: value), not a list or a single value',
        [],
        'value',
        { hint: 'start with `name: <pipeline name>` and `stages:`' },
      ),
    ]);
  }

  const errors: PipeError[] = [];
  const problems: Problem[] = [];
  const overrides: Override[] = [];
  const stageIds = isMapping(root.stages) ? Object.keys(root.stages) : [];
  for (const setText of options.sets ?? []) {
    try {
      const override = parseOverride(setText, stageIds);
      applyOverride(root, override);
      overrides.push(override);
    } catch (err) {
      if (!(err instanceof OverrideError)) throw err;
      errors.push(overrideError(err.text, err.message, err.hint));
    }
  }
  for (const o of overrides) {
    if (o.path[0] === 'stages') continue;
    let value = fitOverrideValue(o.value, o.raw, schemaAt(coreSchema, o.path), cwd);
    // `cache` typed on the command line is a folder from where the command runs, like any path there.
    if (o.path[0] === 'cache' && (o.path.length === 1 || o.path[1] === 'dir') && typeof value === 'string' && value !== '') value = resolve(cwd, value);
    setAt(root, o.path, value);
  }

  const core = validatorFor(coreSchema);
  const uses: Record<string, string> = {};
  const stagesDoc = isMapping(root.stages) ? root.stages : {};
  const entries = Object.entries(stagesDoc).filter(
    (e): e is [string, Json & { uses: string }] => isMapping(e[1]) && typeof e[1].uses === 'string' && e[1].uses !== '',
  );
  for (const [id, entry] of entries) uses[id] = entry.uses;
  if (!core(root)) problems.push(...problemsFromAjv(core.errors ?? [], [], uses));
  problems.push(...gateProblems(root));

  const usesProblem = (id: string, err: unknown) => {
    if (!(err instanceof PipeError)) throw err;
    problems.push({ message: err.message, hint: err.hint, path: ['stages', id, 'uses'], anchor: 'value' });
  };
  const modules = new Map<string, StageModule>();
  for (const [id, entry] of entries) {
    try {
      modules.set(id, { uses: entry.uses, modulePath: stageModulePath(entry.uses, dir, builtinDir) });
    } catch (err) {
      usesProblem(id, err);
    }
  }
  // Importing a module runs its top-level code: a caller that must vet the code first does it here.
  await options.beforeImport?.(Object.fromEntries(modules));
  const loaded = new Map<string, LoadedStage>();
  await Promise.all(
    entries.map(async ([id, entry]) => {
      if (!modules.has(id)) return;
      try {
        loaded.set(id, await loadStage(entry.uses, dir, builtinDir));
      } catch (err) {
        usesProblem(id, err);
      }
    }),
  );

  // Messages name a stage's type by the name it declares (`make-numbers`, not `./stages/make-numbers.ts`).
  for (const [id, module] of loaded) uses[id] = module.stage.name;

  const pathParams: Record<string, PathParam[]> = {};
  /** Stages whose params passed their schema and `check`: only those tell their outputs' facts. */
  const paramsPassed = new Set<string>();
  for (const [id, entry] of entries) {
    const module = loaded.get(id);
    if (!module) continue;
    if (entry.with === undefined || entry.with === null) entry.with = {};
    if (!isMapping(entry.with)) continue; // the core schema reported it
    for (const o of overrides) {
      if (o.path[0] !== 'stages' || o.path[1] !== id || o.path[2] !== 'with' || o.path.length < 4) continue;
      const paramPath = o.path.slice(3);
      if (getAt(entry.with, paramPath.slice(0, -1)) === undefined) continue;
      setAt(entry.with, paramPath, fitOverrideValue(o.value, o.raw, schemaAt(module.stage.params, paramPath), cwd));
    }
    const checked = checkParams(module.stage, entry.with, id, uses);
    problems.push(...checked.problems);
    pathParams[id] = checked.paths;
    if (checked.problems.length === 0) paramsPassed.add(id);
  }
  // Which metrics the stages report is only known once every stage loaded with params its schema passed.
  if (problems.length === 0 && errors.length === 0 && loaded.size === entries.length) {
    const catalogue = gateCatalogue(entries.map(([id, entry]) => ({ id, stage: loaded.get(id)!.stage, params: entry.with as Json })));
    problems.push(...gateMetricProblems(root, catalogue));
  }

  const graph: Record<string, GraphStage> = {};
  const edges: Record<string, string[]> = {};
  for (const [id, entry] of Object.entries(stagesDoc)) {
    const mapping = isMapping(entry) ? entry : {};
    const refs = isMapping(mapping.inputs) ? (mapping.inputs as Record<string, string>) : undefined;
    const module = loaded.get(id);
    // With `inputs:` present but not a mapping (reported by the core schema) the stage's inputs are not checked.
    const checkable = mapping.inputs === undefined || refs !== undefined;
    graph[id] = { uses: uses[id] ?? '?', refs, inputs: checkable ? module?.stage.inputs : undefined, outputs: module?.stage.outputs };
    edges[id] = Object.values(refs ?? {})
      .filter((r): r is string => typeof r === 'string')
      .map((r) => r.split('.')[0])
      .filter((upstream) => upstream in stagesDoc);
  }
  const resolvedInputs = resolveInputs(graph);
  problems.push(...resolvedInputs.problems);
  const cycles = findCycles(edges);
  for (const cycle of cycles) problems.push(cycleProblem(cycle, edges, stagesDoc));
  // What the outputs will hold (an image shape), walked in execution order, which a cycle leaves undefined.
  if (cycles.length === 0) {
    const factsStages: Record<string, FactsStage> = {};
    for (const id of Object.keys(stagesDoc)) {
      const passed = paramsPassed.has(id);
      factsStages[id] = {
        uses: uses[id] ?? '?',
        stage: passed ? loaded.get(id)?.stage : undefined,
        params: passed ? ((stagesDoc[id] as Json).with as Json) : undefined,
        inputs: resolvedInputs.inputs[id] ?? {},
      };
    }
    problems.push(...deriveFacts(factsStages, topologicalOrder(edges)).problems);
  }

  for (const problem of problems) {
    const override = overrideFor(overrides, problem.path, (path) => source.has(path));
    errors.push(
      override
        ? overrideError(override.text, problem.message, problem.hint)
        : source.errorAt(problem.message, problem.path, problem.anchor, { hint: problem.hint }),
    );
  }
  if (errors.length > 0) throw new PipeErrors(sortErrors(errors));

  const spec = root as unknown as PipelineSpec;
  const stages: Record<string, ResolvedStage> = {};
  for (const [id, entry] of Object.entries(spec.stages)) {
    const module = loaded.get(id)!;
    stages[id] = {
      id,
      uses: entry.uses,
      params: entry.with as Record<string, unknown>,
      inputs: resolvedInputs.inputs[id] ?? {},
      stage: module.stage,
      modulePath: module.modulePath,
      pathParams: pathParams[id] ?? [],
    };
  }
  return {
    file: abs,
    dir,
    spec,
    stages,
    order: topologicalOrder(edges),
    cacheSettings: cacheSettingsOf(spec.cache, dir),
    source,
  };
}

function cacheSettingsOf(cache: PipelineSpec['cache'], dir: string): LoadedPipeline['cacheSettings'] {
  if (cache === undefined) return {};
  if (typeof cache === 'string') return { dir: resolve(dir, cache) };
  return { dir: cache.dir === undefined ? undefined : resolve(dir, cache.dir), remote: cache.remote, timeout: cache.timeout };
}

/** Gate conditions that do not parse (the core schema checks their type). */
function gateProblems(root: Json): Problem[] {
  const failIf = isMapping(root.gates) ? root.gates.failIf : undefined;
  if (!Array.isArray(failIf)) return [];
  return failIf.flatMap((text, i): Problem[] => {
    if (typeof text !== 'string') return [];
    const gate = parseGate(text, '');
    return typeof gate === 'string' ? [{ message: gate, hint: GATE_SYNTAX_HINT, path: ['gates', 'failIf', i], anchor: 'value' }] : [];
  });
}

/** Gates whose metric no stage reports: a misspelt name fails here, not after the training it gates. */
function gateMetricProblems(root: Json, catalogue: GateCatalogue): Problem[] {
  const failIf = isMapping(root.gates) ? root.gates.failIf : undefined;
  if (!Array.isArray(failIf)) return [];
  return failIf.flatMap((text, i): Problem[] => {
    if (typeof text !== 'string') return [];
    const gate = parseGate(text, '');
    const unknown = typeof gate === 'string' ? undefined : unknownGateMetric(gate.metric, catalogue);
    return unknown ? [{ message: `gate '${text.trim()}': ${unknown.message}`, hint: unknown.hint, path: ['gates', 'failIf', i], anchor: 'value' }] : [];
  });
}

function checkParams(stage: Stage, params: Json, id: string, uses: Record<string, string>): { problems: Problem[]; paths: PathParam[] } {
  let validate;
  try {
    validate = validatorFor(stage.params);
  } catch (err) {
    return {
      problems: [
        {
          message: `stage type '${uses[id]}' has an invalid param schema: ${(err as Error).message}`,
          hint: 'this is a bug in the stage module, not in the pipeline',
          path: ['stages', id, 'uses'],
          anchor: 'value',
        },
      ],
      paths: [],
    };
  }
  const { valid, paths } = validateWithPaths(validate, params);
  if (!valid) return { problems: problemsFromAjv(validate.errors ?? [], ['stages', id, 'with'], uses), paths };
  // What the schema cannot say (a network's shapes), checked by the stage itself on params the schema passed.
  const problems = (stage.check?.(params) ?? []).map(
    (p): Problem => ({ message: `stage '${id}' (${uses[id]}): ${p.message}`, hint: p.hint, path: ['stages', id, 'with', ...p.at], anchor: 'key' }),
  );
  return { problems, paths };
}

/** One problem per cycle, naming its stages in the direction data flows, at the input that closes it. */
function cycleProblem(cycle: string[], edges: Record<string, string[]>, stagesDoc: Json): Problem {
  // `cycle` follows "reads from" edges; data flows the other way.
  const flow = [cycle[0], ...cycle.slice(1).reverse()];
  const first = flow[0];
  const members = new Set(cycle);
  const refs = (stagesDoc[first] as StageSpec).inputs ?? {};
  const closing = Object.entries(refs).find(([, ref]) => typeof ref === 'string' && members.has(ref.split('.')[0]));
  const loop = flow.length === 1 ? `'${first}' reads its own output` : `${[...flow, first].join(' -> ')}`;
  return {
    message: `stages form a cycle: ${loop}`,
    hint: 'a stage cannot read (directly or through other stages) what it produces; remove or change one of these inputs',
    path: closing ? ['stages', first, 'inputs', closing[0]] : ['stages', first],
    anchor: closing ? 'value' : 'key',
  };
}

/** File errors in file order, then errors from `--set`. */
function sortErrors(errors: PipeError[]): PipeError[] {
  const rank = (e: PipeError) => (e.location ? e.location.line * 100_000 + e.location.column : Number.MAX_SAFE_INTEGER);
  return errors.map((e, i) => [e, i] as const).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]).map(([e]) => e);
}
