// The one Ajv setup used for pipeline files and stage params, so every validator behaves the same:
// all errors at once, defaults filled in, and the `x-pipe-path` keyword known.
import { Ajv, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../stage.js';

/** A param the stage reads from disk, found while validating (its content goes into the cache key). */
export interface PathParam {
  /** JSON pointer inside the params object, e.g. "/path" or "/files/0". */
  pointer: string;
  kind: 'file' | 'dir';
  value: string;
}

// Validators are compiled once per process and reused; the keyword writes into whichever collector
// the current (synchronous) validation call installed.
let collector: PathParam[] | undefined;

let shared: Ajv | undefined;

export function pipeAjv(): Ajv {
  if (shared) return shared;
  // The optimizer's extra passes cost more at compile time than they save when validating one small document.
  shared = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true, code: { optimize: false } });
  shared.addKeyword({
    keyword: 'x-pipe-path',
    schemaType: 'string',
    metaSchema: { enum: ['file', 'dir'] },
    errors: false,
    validate(kind: 'file' | 'dir', data: unknown, _parentSchema?: unknown, ctx?: { instancePath: string }) {
      if (collector && typeof data === 'string') collector.push({ pointer: ctx?.instancePath ?? '', kind, value: data });
      return true;
    },
  });
  return shared;
}

const compiled = new WeakMap<object, ValidateFunction>();

/** The compiled validator for a schema object, compiled on first use. */
export function validatorFor(schema: JsonSchema): ValidateFunction {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = pipeAjv().compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Validate (and default, in place) `data`; returns the path params seen on the way. */
export function validateWithPaths(validate: ValidateFunction, data: unknown): { valid: boolean; paths: PathParam[] } {
  collector = [];
  try {
    const valid = validate(data) as boolean;
    return { valid, paths: collector };
  } finally {
    collector = undefined;
  }
}
