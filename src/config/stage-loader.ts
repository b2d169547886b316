// Finds and imports the module behind a stage's `uses:`: a built-in stage by name (compiled into
// dist/stages/) or a user's module by path relative to the pipeline file (.ts through tsx).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, resolve, win32 } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { PipeError } from '../errors.js';
import type { Stage } from '../stage.js';
import { STAGE_PATH_PATTERN } from './core-schema.js';
import { closest } from './suggest.js';

/** dist/src/config/ -> dist/stages/ */
export const BUILTIN_STAGES_DIR = fileURLToPath(new URL('../../stages/', import.meta.url));

export interface LoadedStage {
  stage: Stage;
  /** Absolute path of the file imported. */
  modulePath: string;
}

/** Names of the built-in stages, sorted. */
export function listBuiltinStages(dir: string = BUILTIN_STAGES_DIR): string[] {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch {
    return [];
  }
  return files
    .filter((f) => f.endsWith('.js') && !f.endsWith('.d.js'))
    .map((f) => f.slice(0, -'.js'.length))
    .sort();
}

/** True when `uses` names a module file rather than a built-in stage. */
export function isStagePath(uses: string): boolean {
  return uses.startsWith('./') || uses.startsWith('../') || isAbsolute(uses);
}

/**
 * Import the stage `uses` names. Paths are relative to `baseDir` (the pipeline file's folder).
 * Throws PipeError (without a location; the caller knows where `uses:` is written).
 */
export async function loadStage(uses: string, baseDir: string, builtinDir: string = BUILTIN_STAGES_DIR): Promise<LoadedStage> {
  const modulePath = stageModulePath(uses, baseDir, builtinDir);
  const stage = checkStage(await importModule(modulePath, uses), uses);
  if (!isStagePath(uses) && stage.name !== uses) {
    throw new PipeError(`built-in stage file ${uses}.js declares the name '${stage.name}'`, {
      hint: 'a built-in stage file must be named after its stage',
    });
  }
  return { stage, modulePath };
}

/**
 * The file `uses` names, found without importing it (so that a caller can vet it first). Throws PipeError as
 * loadStage does when there is no such stage.
 */
export function stageModulePath(uses: string, baseDir: string, builtinDir: string = BUILTIN_STAGES_DIR): string {
  if (isStagePath(uses)) return userStagePath(uses, baseDir);
  const names = listBuiltinStages(builtinDir);
  if (!names.includes(uses)) {
    const guess = closest(uses, names);
    const list = names.length > 0 ? `built-in stages: ${names.join(', ')}` : 'no built-in stages are installed';
    throw new PipeError(`unknown stage type '${uses}'`, {
      hint: guess ? `did you mean '${guess}'?` : `${list}; a stage module of your own is written as a path, e.g. ./stages/${uses}.ts`,
    });
  }
  return resolve(builtinDir, `${uses}.js`);
}

function userStagePath(uses: string, baseDir: string): string {
  if (!new RegExp(STAGE_PATH_PATTERN).test(uses) && !isAbsolute(uses)) {
    throw new PipeError(`stage module '${uses}' must be a .ts, .mts, .js or .mjs file`, {
      hint: 'write the file name with its extension, e.g. ./stages/crop.ts',
    });
  }
  const modulePath = resolve(baseDir, uses);
  if (!existsSync(modulePath)) {
    const guess = closest(basename(modulePath), siblings(dirname(modulePath)));
    throw new PipeError(`stage module '${uses}' not found (looked for ${modulePath})`, {
      hint: guess
        ? `did you mean '${uses.slice(0, uses.length - basename(uses).length)}${guess}'?`
        : 'paths in `uses:` are relative to the pipeline file',
    });
  }
  return modulePath;
}

function siblings(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => /\.(ts|mts|js|mjs)$/.test(f));
  } catch {
    return [];
  }
}

// One import per module file and process, so stages of the same type share one Stage object (and one
// compiled param validator); tsx would otherwise load a TypeScript module afresh on every call.
const imported = new Map<string, Promise<unknown>>();

function importModule(modulePath: string, uses: string): Promise<unknown> {
  let module = imported.get(modulePath);
  if (!module) {
    module = importUncached(modulePath, uses);
    imported.set(modulePath, module);
  }
  return module;
}

async function importUncached(modulePath: string, uses: string): Promise<unknown> {
  const url = pathToFileURL(modulePath).href;
  try {
    if (/\.m?ts$/.test(modulePath)) {
      // tsx is loaded only for TypeScript stages: it costs a few hundred milliseconds.
      const { tsImport } = await import('tsx/esm/api');
      return await tsImport(url, import.meta.url);
    }
    return await import(url);
  } catch (err) {
    // "Transform failed with 1 error:" says nothing by itself; the error is on the next line.
    const lines = (err instanceof Error ? err.message : String(err)).split('\n').filter((l) => l.trim() !== '');
    const reason = /failed with \d+ errors?:$/.test(lines[0] ?? '') && lines[1] ? `${lines[0]} ${lines[1].trim()}` : (lines[0] ?? '');
    const commonJs = /\.ts$/.test(modulePath) ? commonJsPackage(modulePath) : undefined;
    throw new PipeError(`could not load stage module '${uses}': ${reason}`, {
      hint: commonJs
        ? `the module was compiled as CommonJS because ${commonJs}; add "type": "module" to the package.json, or rename the file to .mts`
        : 'fix the module (run it with --debug for the stack trace)',
      cause: err,
    });
  }
}

/** Why a .ts file is compiled as CommonJS (its nearest package.json lacks "type": "module"), or undefined when it is not. */
function commonJsPackage(modulePath: string): string | undefined {
  for (let dir = dirname(modulePath); ; dir = dirname(dir)) {
    const file = resolve(dir, 'package.json');
    if (existsSync(file)) {
      try {
        return (JSON.parse(readFileSync(file, 'utf8')) as { type?: string }).type === 'module' ? undefined : `${file} has no "type": "module"`;
      } catch {
        return undefined;
      }
    }
    if (dirname(dir) === dir) return 'no package.json above it says "type": "module"';
  }
}

const REQUIRED_MEMBERS: Array<[keyof Stage, string]> = [
  ['name', 'string'],
  ['version', 'string'],
  ['params', 'object'],
  ['inputs', 'object'],
  ['outputs', 'object'],
  ['run', 'function'],
];

/**
 * The export `export default` made. A .ts file outside a `"type": "module"` package is compiled to CommonJS,
 * where that export becomes `module.exports.default`, seen from import() as `default.default`.
 */
function defaultExport(mod: unknown): unknown {
  const outer = (mod as { default?: unknown } | null)?.default as Record<string, unknown> | undefined;
  if (outer && typeof outer === 'object' && !('name' in outer) && typeof outer.default === 'object') return outer.default;
  return outer;
}

/** The module's default export, if it is shaped like a Stage. */
function checkStage(mod: unknown, uses: string): Stage {
  const stage = defaultExport(mod);
  const fix = 'export default defineStage({ name, version, description, params, inputs, outputs, run }) from src/stage';
  if (typeof stage !== 'object' || stage === null) {
    throw new PipeError(`stage module '${uses}' has no default export that is a stage`, { hint: fix });
  }
  const record = stage as Record<string, unknown>;
  const missing = REQUIRED_MEMBERS.filter(([key, type]) => typeof record[key] !== type || record[key] === null).map(
    ([key, type]) => `${key} (${type})`,
  );
  if (missing.length > 0) {
    throw new PipeError(`stage module '${uses}' is not a valid stage: missing or wrong ${missing.join(', ')}`, { hint: fix });
  }
  checkOutputNames(record.outputs as Record<string, unknown>, uses);
  return stage as Stage;
}

/**
 * Every output must name a place inside the stage's own output folder: an entry's manifest can only vouch for
 * files under it, so a name that climbs out (`../x`, `/tmp/x`) would write where the store cannot see.
 */
function checkOutputNames(outputs: Record<string, unknown>, uses: string): void {
  for (const [name, spec] of Object.entries(outputs)) {
    const file = (spec as { file?: unknown } | null)?.file;
    const where = `stage module '${uses}': output '${name}'`;
    if (typeof file !== 'string' || file.replace(/\/+$/, '') === '') {
      throw new PipeError(`${where} has no file name`, { hint: "give each output a file (or folder/) inside the stage's output folder, e.g. { file: 'data.arrow', description }" });
    }
    const segments = file.split(/[\\/]/);
    if (isAbsolute(file) || win32.isAbsolute(file) || segments.includes('..')) {
      throw new PipeError(`${where} writes to '${file}', outside the stage's output folder`, {
        hint: "output names are relative to the stage's output folder and may not contain '..': e.g. 'result.json' or 'model/'",
      });
    }
  }
}
