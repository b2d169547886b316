// The one Ajv setup used for pipeline files and stage params, so every validator behaves the same:
// all errors at once, defaults filled in, and the `x-pipe-path` keyword known.
// Compiling the schemas costs a process about 0.2 s of CPU (Ajv itself and code generation), which every
// `pipe` command and queue job paid. So `npm run build` compiles the core schema and every built-in stage's
// params ahead (scripts/validators.mjs → dist/validators.cjs, Ajv's standalone code), and a schema is compiled
// here only when it is not among them: a project's own stage, or a build that did not write them.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Ajv, KeywordCxt, Options, ValidateFunction } from 'ajv';
import type { JsonSchema } from '../stage.js';

const require = createRequire(import.meta.url);

/**
 * A param the stage reads from disk, found while validating (the one place path params are collected; the
 * planner hashes their content into the cache key instead of the path string).
 */
export type PathKind = 'file' | 'dir' | 'listing';

export interface PathParam {
  /** Location inside the params object, e.g. ["path"] or ["sources", 0, "file"]. */
  at: (string | number)[];
  /** 'listing': a file that names other files by paths relative to its own folder (a CSV of image paths). */
  kind: PathKind;
  value: string;
}

/**
 * What the validators are compiled with, ahead or here. The optimizer's extra passes cost more at compile time
 * than they save when validating one small document. passContext: the `x-pipe-path` keyword reports to the
 * collector the validation call passes as `this` (see validateWithPaths), through every subschema.
 */
const OPTIONS: Options = { allErrors: true, useDefaults: true, strict: false, verbose: true, passContext: true, code: { optimize: false } };

/** The file the build writes the precompiled validators to, beside dist/src. */
const PRECOMPILED = fileURLToPath(new URL('../../validators.cjs', import.meta.url));

/**
 * An Ajv with the options and keyword every validator here has. `source` keeps the generated code, for the
 * build to write out.
 */
export function createPipeAjv(options: { source?: boolean } = {}): Ajv {
  const { Ajv: AjvClass, _ } = require('ajv') as typeof import('ajv');
  const { strConcat } = require('ajv/dist/compile/codegen') as typeof import('ajv/dist/compile/codegen/index.js');
  const names = (require('ajv/dist/compile/names') as typeof import('ajv/dist/compile/names.js')).default;
  const ajv = new AjvClass({ ...OPTIONS, code: { ...OPTIONS.code, source: options.source ?? false } });
  ajv.addKeyword({
    keyword: 'x-pipe-path',
    type: 'string',
    schemaType: 'string',
    metaSchema: { enum: ['file', 'dir', 'listing'] },
    // Generated code, not a function, so that the build can write it out: it never fails, it only reports.
    code(cxt: KeywordCxt) {
      const { gen, data, schemaCode, it } = cxt;
      gen.if(_`${names.this} && ${names.this}.pathParam`, () =>
        gen.code(_`${names.this}.pathParam(${schemaCode}, ${data}, ${strConcat(names.instancePath, it.errorPath)}, ${names.rootData})`),
      );
    },
  });
  return ajv;
}

let keySeed: string | undefined;

/**
 * Names a schema's validator: its JSON, with what the validators are compiled by (the options, the keyword's
 * code generator, Ajv's version), so a validator written by another build is never taken for this one's.
 */
export function validatorKey(schema: JsonSchema): string {
  keySeed ??= JSON.stringify({ options: OPTIONS, setup: createPipeAjv.toString(), ajv: (require('ajv/package.json') as { version: string }).version });
  return `v${createHash('sha256').update(keySeed).update(JSON.stringify(schema)).digest('hex').slice(0, 32)}`;
}

let precompiled: Record<string, ValidateFunction> | null | undefined;

/** The build's validator for `schema`, if it wrote one. */
export function precompiledValidator(schema: JsonSchema): ValidateFunction | undefined {
  if (precompiled === undefined) {
    try {
      precompiled = require(PRECOMPILED) as Record<string, ValidateFunction>;
    } catch (error) {
      // Only the file's absence means "compile here"; a module it needs being missing is a broken install.
      if ((error as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' || !String((error as Error).message).includes(PRECOMPILED)) throw error;
      precompiled = null;
    }
  }
  return precompiled?.[validatorKey(schema)];
}

let shared: Ajv | undefined;

/** A validator compiled now, for a schema the build did not compile. */
export function compileValidator(schema: JsonSchema): ValidateFunction {
  shared ??= createPipeAjv();
  return shared.compile(schema);
}

/** A JSON pointer as a location: array indices as numbers (read off the data, so a key "0" stays a string). */
function locationOf(pointer: string, root: unknown): (string | number)[] {
  const at: (string | number)[] = [];
  let node = root;
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const index = Array.isArray(node) ? Number(part) : part;
    at.push(index);
    node = (node as Record<string | number, unknown> | undefined)?.[index];
  }
  return at;
}

const compiled = new WeakMap<object, ValidateFunction>();

/** The compiled validator for a schema object, compiled on first use. */
export function validatorFor(schema: JsonSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = precompiledValidator(schema) ?? compileValidator(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Validate (and default, in place) `data`; returns the path params seen on the way. */
export function validateWithPaths(validate: ValidateFunction, data: unknown): { valid: boolean; paths: PathParam[] } {
  const paths: PathParam[] = [];
  const collector = {
    pathParam(kind: PathKind, value: string, instancePath: string, rootData: unknown) {
      const at = locationOf(instancePath, rootData);
      // The same value can be reached through several subschemas (anyOf, allOf): keep it once.
      if (!paths.some((p) => p.at.length === at.length && p.at.every((part, i) => part === at[i]))) paths.push({ at, kind, value });
    },
  };
  const valid = validate.call(collector, data) as boolean;
  return { valid, paths };
}
