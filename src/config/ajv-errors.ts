// Turns Ajv's errors into problems a person can act on: which field, what is wrong with it, what would be
// right (did-you-mean for misspelt keys and enum values, the field's description otherwise).
import type { ErrorObject } from 'ajv';
import { describePath, showValue, type Problem } from './problem.js';
import type { JsonPath } from './source.js';
import { didYouMean } from './suggest.js';

interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
  [key: string]: unknown;
}

function pointerToPath(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function typeWords(type: unknown): string {
  const words: Record<string, string> = {
    object: 'a mapping (key: value)',
    array: 'a list',
    string: 'a string',
    integer: 'an integer',
    number: 'a number',
    boolean: 'true or false',
    null: 'null',
  };
  const types = Array.isArray(type) ? type : [type];
  return types.map((t) => words[String(t)] ?? String(t)).join(' or ');
}

function describeHint(schema: SchemaNode | undefined, name: string): string | undefined {
  return schema?.description ? `${name}: ${schema.description}` : undefined;
}

/**
 * @param base path of the validated value inside the document (e.g. ["stages", "train", "with"])
 * @param uses stage type by stage id, to name the stage type in messages about params
 */
export function problemsFromAjv(errors: ErrorObject[], base: JsonPath, uses: Record<string, string> = {}): Problem[] {
  const problems: Problem[] = [];
  for (const err of errors) {
    // The inner error of a failed propertyNames check duplicates the propertyNames error itself,
    // and an `if` error only says that some `then` failed, which is reported separately.
    if ((err as { propertyName?: string }).propertyName !== undefined || err.keyword === 'if') continue;
    const path = [...base, ...pointerToPath(err.instancePath)];
    const schema = err.parentSchema as SchemaNode | undefined;
    const field = describePath(path);
    const leaf = String(path[path.length - 1] ?? '');
    const isParams = path[0] === 'stages' && path[2] === 'with';
    const stageId = path[0] === 'stages' ? String(path[1] ?? '') : '';
    switch (err.keyword) {
      case 'additionalProperties': {
        const key = String((err.params as { additionalProperty: string }).additionalProperty);
        const allowed = Object.keys(schema?.properties ?? {});
        let message: string;
        if (isParams && path.length === 3) message = `unknown param '${key}' for stage '${stageId}' (${uses[stageId] ?? 'stage'})`;
        else if (path.length === 0) message = `unknown key '${key}' at the top level`;
        else if (path[0] === 'stages' && path.length === 2) message = `unknown key '${key}' in stage '${stageId}'`;
        else message = `unknown key '${key}' in ${field}`;
        const what = isParams && path.length === 3 ? `params of ${uses[stageId] ?? 'this stage'}` : 'allowed keys';
        problems.push({ message, hint: didYouMean(key, allowed, what) ?? `${what}: none`, path: [...path, key], anchor: 'key' });
        break;
      }
      case 'required': {
        const missing = String((err.params as { missingProperty: string }).missingProperty);
        let message: string;
        if (isParams && path.length === 3) message = `stage '${stageId}' (${uses[stageId] ?? 'stage'}) is missing the required param '${missing}'`;
        else if (path.length === 0) message = `missing the required key '${missing}'`;
        else if (path[0] === 'stages' && path.length === 2) message = `stage '${stageId}' is missing '${missing}'`;
        else message = `${field} is missing the required key '${missing}'`;
        problems.push({ message, hint: describeHint(schema?.properties?.[missing], missing), path, anchor: 'key' });
        break;
      }
      case 'propertyNames': {
        const name = String((err.params as { propertyName: string }).propertyName);
        const isStageId = path.length === 1 && path[0] === 'stages';
        problems.push({
          message: isStageId ? `invalid stage id '${name}'` : `invalid key '${name}' in ${field}`,
          hint: isStageId ? 'a stage id starts with a lowercase letter and has only a-z, 0-9, - and _ (e.g. train-cnn)' : undefined,
          path: [...path, name],
          anchor: 'key',
        });
        break;
      }
      case 'type':
        if (err.data === null) {
          // `key:` with nothing after it
          problems.push({
            message: `${field} is empty`,
            hint: `it must be ${typeWords((err.params as { type: unknown }).type)}${path[0] === 'stages' && path.length === 2 ? ', at least `uses: <stage type>`' : ''}`,
            path,
            anchor: 'value',
          });
          break;
        }
        problems.push({
          message: `${field} must be ${typeWords((err.params as { type: unknown }).type)}, got ${showValue(err.data)}`,
          hint: describeHint(schema, leaf),
          path,
          anchor: 'value',
        });
        break;
      case 'enum': {
        const allowed = ((err.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String);
        problems.push({
          message: `${field} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${showValue(err.data)}`,
          hint: (typeof err.data === 'string' ? didYouMean(err.data, allowed) : undefined) ?? describeHint(schema, leaf),
          path,
          anchor: 'value',
        });
        break;
      }
      case 'minLength':
        if ((err.params as { limit: number }).limit !== 1) {
          defaultProblem(problems, err, path, field, schema, leaf);
          break;
        }
        problems.push({ message: `${field} is empty`, hint: describeHint(schema, leaf), path, anchor: 'value' });
        break;
      case 'minProperties':
        problems.push({
          message: `${field} is empty`,
          hint: path.length === 1 && path[0] === 'stages' ? 'add at least one stage: `<id>: { uses: <stage type> }`' : undefined,
          path,
          anchor: 'key',
        });
        break;
      default:
        defaultProblem(problems, err, path, field, schema, leaf);
    }
  }
  return problems;
}

/** Ajv's own words for the keyword, with the field's name and value. */
function defaultProblem(problems: Problem[], err: ErrorObject, path: JsonPath, field: string, schema: SchemaNode | undefined, leaf: string): Problem[] {
  const scalar = err.data === null || typeof err.data !== 'object';
  problems.push({
    message: `${field} ${err.message ?? 'is invalid'}${scalar ? `, got ${showValue(err.data)}` : ''}`,
    hint: describeHint(schema, leaf),
    path,
    anchor: 'value',
  });
  return problems;
}
