// What every artifact format module (src/formats/*.ts) builds on: reading a JSON file, writing one, and checking
// a parsed value field by field so that a damaged or foreign file is refused with an error that names the file,
// the field and how to get a good one, instead of a report that quietly shows less.
//
// Writes are plain: a stage writes into its pending store entry, which the store commits whole (rename), so a
// reader never sees half a file.
import { readFile, writeFile } from 'node:fs/promises';
import { PipeError } from '../errors.js';

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The file being checked, and who writes it (for the hint). */
export interface Source {
  file: string;
  /** e.g. "the evaluate stage": the hint tells the user to run it again. */
  writer: string;
}

/** The hint of every format error: the file is damaged or not what it claims to be, and who makes a good one. */
function hint(source: Source): string {
  return `it is damaged or was not written by ${source.writer}: run that stage again (pipe run <pipeline> --force=<stage>)`;
}

/** `value` as a short piece of JSON for an error message. */
function shown(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return `${text.length > 40 ? `${text.slice(0, 37)}...` : text}`;
}

/**
 * The error for a field of a file: "<file>: <field> must be <expected>, found <value>" (`found` says what was
 * found when the value itself says little, e.g. "3 rows").
 */
export function fieldError(source: Source, path: string, expected: string, value: unknown, found?: string): PipeError {
  found = found ? `found ${found}` : value === undefined ? 'it is missing' : `found ${shown(value)}`;
  return new PipeError(`${source.file}: ${path || 'the file'} must be ${expected}, ${found}`, { hint: hint(source) });
}

/** Parse the JSON in `file`; a file that is missing or not JSON is a PipeError that says so. */
export async function readJsonFile(source: Source): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(source.file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new PipeError(`${source.file}: no such file`, {
      hint: `it is written by ${source.writer}; outputs of old runs may have been removed by 'pipe cache gc': run the pipeline again`,
      cause: err,
    });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PipeError(`${source.file}: not valid JSON: ${(err as Error).message}`, { hint: hint(source), cause: err });
  }
}

/**
 * What `read` returns for `file`, or undefined when the file is gone (removed by cache gc) or damaged: for
 * listings that show what is left of many runs rather than stop at one.
 */
export async function readOrUndefined<T>(read: (file: string) => Promise<T>, file: string): Promise<T | undefined> {
  try {
    return await read(file);
  } catch {
    return undefined;
  }
}

/** Write `value` as JSON: indented by two spaces unless `compact`, with a final newline. */
export async function writeJsonFile(file: string, value: unknown, compact = false): Promise<void> {
  await writeFile(file, `${compact ? JSON.stringify(value) : JSON.stringify(value, null, 2)}\n`);
}

const join = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

/**
 * Checks of one parsed file. Each takes the value and its path in the file ("splits.test.accuracy") and returns
 * it typed, or throws a fieldError. `optional…` accept a missing field (older files lack fields added since);
 * optional numbers also accept null, which is how JSON writes a NaN or an infinity.
 */
export class Checker {
  constructor(readonly source: Source) {}

  fail(path: string, expected: string, value: unknown, found?: string): never {
    throw fieldError(this.source, path, expected, value, found);
  }

  at(path: string, key: string | number): string {
    return join(path, key);
  }

  object(value: unknown, path: string): Json {
    return isObject(value) ? value : this.fail(path, 'an object', value);
  }

  array(value: unknown, path: string): unknown[] {
    return Array.isArray(value) ? value : this.fail(path, 'a list', value);
  }

  number(value: unknown, path: string): number {
    return typeof value === 'number' && Number.isFinite(value) ? value : this.fail(path, 'a number', value);
  }

  optionalNumber(value: unknown, path: string): number | undefined {
    return value === undefined || value === null ? undefined : this.number(value, path);
  }

  /** A whole number ≥ 0 (a count, a row index). */
  index(value: unknown, path: string): number {
    return Number.isInteger(value) && (value as number) >= 0 ? (value as number) : this.fail(path, 'a whole number ≥ 0', value);
  }

  nullableNumber(value: unknown, path: string): number | null {
    return value === null ? null : this.number(value, path);
  }

  string(value: unknown, path: string): string {
    return typeof value === 'string' ? value : this.fail(path, 'a string', value);
  }

  optionalString(value: unknown, path: string): string | undefined {
    return value === undefined ? undefined : this.string(value, path);
  }

  boolean(value: unknown, path: string): boolean {
    return typeof value === 'boolean' ? value : this.fail(path, 'true or false', value);
  }

  optionalBoolean(value: unknown, path: string): boolean | undefined {
    return value === undefined ? undefined : this.boolean(value, path);
  }

  /** One of `choices`. */
  oneOf<T extends string>(value: unknown, path: string, choices: readonly T[]): T {
    return choices.includes(value as T) ? (value as T) : this.fail(path, `one of ${choices.map((c) => `'${c}'`).join(', ')}`, value);
  }

  strings(value: unknown, path: string): string[] {
    return this.array(value, path).map((s, i) => this.string(s, join(path, i)));
  }

  numbers(value: unknown, path: string): number[] {
    return this.array(value, path).map((x, i) => this.number(x, join(path, i)));
  }

  /** An object of numbers by name: rows per split, removed rows per pair. */
  counts(value: unknown, path: string): Record<string, number> {
    const obj = this.object(value, path);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, this.number(v, join(path, k))]));
  }

  /** Each entry of an object checked by `check`, keys in the file's order. */
  entries<T>(value: unknown, path: string, check: (v: unknown, path: string) => T): Record<string, T> {
    const obj = this.object(value, path);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, check(v, join(path, k))]));
  }

  /** Each item of a list checked by `check`. */
  list<T>(value: unknown, path: string, check: (v: unknown, path: string) => T): T[] {
    return this.array(value, path).map((v, i) => check(v, join(path, i)));
  }
}

/** `value` without its undefined fields (a field a file lacks stays absent, as it was). */
export function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** A thumbnail a stage drew (a PNG data: URL), or undefined for anything else: pages embed these, nothing else. */
export function pngDataUrl(value: unknown): string | undefined {
  return typeof value === 'string' && value.startsWith('data:image/png;base64,') ? value : undefined;
}
