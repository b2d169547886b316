// The one Ajv setup used for pipeline files and stage params, so every validator behaves the same:
// all errors at once, defaults filled in, and the `x-pipe-path` keyword known.
import { Ajv, type ValidateFunction } from 'ajv';
import type { JsonSchema } from '../stage.js';

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
    metaSchema: { enum: ['file', 'dir', 'listing'] },
    errors: false,
    validate(kind: PathKind, data: unknown, _parentSchema?: unknown, ctx?: { instancePath: string; rootData: unknown }) {
      if (!collector || typeof data !== 'string') return true;
      const at = locationOf(ctx?.instancePath ?? '', ctx?.rootData);
      // The same value can be reached through several subschemas (anyOf, allOf): keep it once.
      if (!collector.some((p) => p.at.length === at.length && p.at.every((part, i) => part === at[i]))) collector.push({ at, kind, value: data });
      return true;
    },
  });
  return shared;
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
