// `--set path=value`: command-line overrides of a pipeline's values, applied to the parsed document
// before validation so they are checked exactly like the file.
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { TOP_LEVEL_KEYS } from './core-schema.js';
import type { JsonPath } from './source.js';
import { closest } from './suggest.js';

export interface Override {
  /** The text given to --set, for messages. */
  text: string;
  /** Where the value goes in the pipeline document. */
  path: string[];
  /** The value text after '='. */
  raw: string;
  value: unknown;
}

/** Keys that would reach an object's prototype instead of a value of the pipeline. */
const RESERVED_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

export class OverrideError extends Error {
  constructor(
    readonly text: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/**
 * Parse one `--set` text. `stageId.param[.sub...]=v` addresses `stages.<id>.with.<param...>`;
 * top-level keys (`seed=7`, `backend=cpu`) the top level; `stages.<id>.<key>...` any stage key.
 * The value is read as YAML: `10` is a number, `true` a boolean, `[a, b]` a list, `{a: 1}` a mapping.
 */
export function parseOverride(text: string, stageIds: readonly string[]): Override {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new OverrideError(text, 'expected path=value', 'e.g. --set train.epochs=10 or --set seed=7');
  const key = text.slice(0, eq).trim();
  const raw = text.slice(eq + 1);
  const segments = pathSegments(key);
  if (segments.some((s) => s === '')) {
    throw new OverrideError(text, `'${key}' is not a valid path`, 'write the path as stage.param, stage.param.sub or stage.list[0].sub');
  }
  const reserved = segments.find((s) => RESERVED_SEGMENTS.has(s));
  if (reserved !== undefined) {
    throw new OverrideError(text, `'${key}' contains '${reserved}', which cannot name a value in a pipeline`, 'name a stage, a param and its sub-keys, e.g. --set train.epochs=10');
  }
  let value: unknown;
  if (raw.trim() === '') value = '';
  else {
    try {
      value = parse(raw, { prettyErrors: false });
    } catch (err) {
      throw new OverrideError(text, `the value is not valid YAML: ${(err as Error).message.split('\n')[0]}`, 'quote the value, e.g. --set "name=\'a: b\'"');
    }
  }
  const [head, ...rest] = segments;
  let path: string[];
  if (head === 'stages') {
    if (rest.length < 2) throw new OverrideError(text, `'${key}' must name a stage and a key`, 'e.g. --set stages.train.uses=./stages/train.ts');
    path = segments;
  } else if (TOP_LEVEL_KEYS.includes(head)) {
    path = segments;
  } else if (stageIds.includes(head)) {
    if (rest.length === 0) throw new OverrideError(text, `'${key}' names a stage but no param`, `write --set ${head}.<param>=value`);
    path = ['stages', head, 'with', ...rest];
  } else {
    const guess = closest(head, [...stageIds, ...TOP_LEVEL_KEYS.filter((k) => k !== 'stages')]);
    throw new OverrideError(
      text,
      `no stage or top-level key named '${head}'`,
      guess ? `did you mean '${guess}'?` : `stages: ${stageIds.map((s) => `'${s}'`).join(', ')}`,
    );
  }
  return { text, path, raw, value };
}

// `build.layers[0].conv2d.filters` and `build.layers.0.conv2d.filters` name the same list item.
function pathSegments(key: string): string[] {
  return key.replace(/\[(\d+)\]/g, '.$1').split('.');
}

/** Top-level keys that say where artifacts are kept: the local store's folder, the remote cache, its timeout. */
const STORE_KEYS = new Set(['cache']);

/**
 * True when the `--set` text changes where artifacts are kept. Such a setting belongs to the machine that
 * runs the stage (a queue worker takes its own from its environment), not to a pipeline handed to it.
 */
export function setsStore(text: string): boolean {
  const eq = text.indexOf('=');
  return eq > 0 && STORE_KEYS.has(pathSegments(text.slice(0, eq).trim())[0]);
}

/** Write the override into `doc` (a plain object), creating mappings on the way; numeric keys index lists. */
export function applyOverride(doc: Record<string, unknown>, override: Override): void {
  let node: Record<string, unknown> = doc;
  for (let i = 0; i < override.path.length - 1; i++) {
    const key = override.path[i];
    const next = Object.hasOwn(node, key) ? node[key] : undefined;
    if (Array.isArray(node) && !(/^\d+$/.test(key) && Number(key) < node.length)) {
      throw new OverrideError(
        override.text,
        `'${override.path.slice(0, i).join('.')}' is a list of ${node.length} items; '${key}' is not one of its indexes`,
        `use an index from 0 to ${node.length - 1}, e.g. [0]`,
      );
    }
    if (next === undefined || next === null) {
      defineOwn(node, key, {});
    } else if (typeof next !== 'object') {
      throw new OverrideError(
        override.text,
        `cannot set '${override.path.slice(i + 1).join('.')}' inside '${override.path.slice(0, i + 1).join('.')}', which is not a mapping`,
      );
    }
    node = node[key] as Record<string, unknown>;
  }
  defineOwn(node, override.path[override.path.length - 1], structuredClone(override.value));
}

/**
 * Set an own data property: unlike `node[key] = value`, this never runs a setter or writes through to a
 * prototype, whatever the key, so no override path can reach Object.prototype.
 */
export function defineOwn(node: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true });
}

/**
 * The override a problem at `path` came from, if any (the last one wins): one that wrote the node or one of
 * its parents, or, for a node the file does not have, one that created it on the way to a deeper key.
 */
export function overrideFor(overrides: readonly Override[], path: JsonPath, inFile: (path: JsonPath) => boolean): Override | undefined {
  const startsWith = (long: readonly (string | number)[], short: readonly (string | number)[]) =>
    short.length <= long.length && short.every((s, j) => String(s) === String(long[j]));
  for (let i = overrides.length - 1; i >= 0; i--) {
    const o = overrides[i];
    if (startsWith(path, o.path) || (startsWith(o.path, path) && !inFile(path))) return o;
  }
  return undefined;
}

interface SchemaNode {
  type?: unknown;
  enum?: unknown[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: unknown;
  'x-pipe-path'?: string;
}

/** The sub-schema at `path` inside an object schema, following properties, items and additionalProperties. */
export function schemaAt(schema: unknown, path: readonly string[]): SchemaNode | undefined {
  let node = schema as SchemaNode | undefined;
  for (const segment of path) {
    if (!node) return undefined;
    if (node.properties?.[segment]) node = node.properties[segment];
    else if (/^\d+$/.test(segment) && node.items && typeof node.items === 'object') node = node.items;
    else if (node.additionalProperties && typeof node.additionalProperties === 'object') node = node.additionalProperties as SchemaNode;
    else return undefined;
  }
  return node;
}

function expandHome(p: string): string {
  return p === '~' ? homedir() : p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : p;
}

/**
 * Fit an override's value to the schema of the field it sets: text the schema wants as a string stays the
 * text typed (`--set name=2024` is "2024", not 2024), and a path param is made absolute against `cwd`
 * because a path typed on the command line means a path from where the command runs.
 */
export function fitOverrideValue(value: unknown, raw: string, schema: SchemaNode | undefined, cwd: string): unknown {
  if (!schema) return value;
  const types = Array.isArray(schema.type) ? schema.type : schema.type === undefined ? [] : [schema.type];
  const wantsString = types.includes('string') || (Array.isArray(schema.enum) && schema.enum.every((e) => typeof e === 'string'));
  const scalar = value === null || ['number', 'boolean'].includes(typeof value);
  const fits =
    types.includes(value === null ? 'null' : typeof value) ||
    (typeof value === 'number' && Number.isInteger(value) && types.includes('integer'));
  if (wantsString && scalar && !fits) value = raw.trim();
  if (schema['x-pipe-path'] && typeof value === 'string' && value !== '') return resolve(cwd, expandHome(value));
  if (Array.isArray(value) && schema.items?.['x-pipe-path']) {
    return value.map((v) => (typeof v === 'string' && v !== '' ? resolve(cwd, expandHome(v)) : v));
  }
  return value;
}
