// The build's precompiled validators (dist/validators.cjs) behave as ones compiled at run time: every built-in
// stage's and the core schema's is there, and both give the same verdict, errors, defaults and path params.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { compileValidator, precompiledValidator, validateWithPaths } from '../../src/config/ajv.js';
import { coreSchema } from '../../src/config/core-schema.js';
import type { JsonSchema } from '../../src/stage.js';

interface BuiltInStage {
  name: string;
  params: JsonSchema;
}

const STAGES = fileURLToPath(new URL('../../stages/', import.meta.url));

async function builtInStages(): Promise<BuiltInStage[]> {
  const files = (await readdir(STAGES)).filter((f) => f.endsWith('.js'));
  return Promise.all(files.map(async (f) => (await import(new URL(f, `file://${STAGES}`).href)).default as BuiltInStage));
}

function both(schema: JsonSchema, data: unknown) {
  const results = [precompiledValidator(schema)!, compileValidator(schema)].map((validate) => {
    const copy = structuredClone(data);
    const { valid, paths } = validateWithPaths(validate, copy);
    const errors = (validate.errors ?? []).map(({ instancePath, keyword, params, message }) => ({ instancePath, keyword, params, message }));
    return { valid, paths, errors, defaulted: copy };
  });
  assert.deepEqual(results[0], results[1]);
  return results[0];
}

test('every built-in stage and the core schema has a precompiled validator, and it agrees with a compiled one', async () => {
  assert.ok(precompiledValidator(coreSchema), 'the core schema was not precompiled (npm run build writes dist/validators.cjs)');
  const stages = await builtInStages();
  assert.ok(stages.length >= 10);
  for (const stage of stages) assert.ok(precompiledValidator(stage.params), `stage '${stage.name}' has no precompiled validator`);

  const byName = Object.fromEntries(stages.map((s) => [s.name, s]));
  // Defaults filled in, and a path param reported where it is.
  const csv = both(byName['ingest-csv'].params, { path: 'data/fer.csv' });
  assert.equal(csv.valid, true);
  assert.deepEqual(csv.paths, [{ at: ['path'], kind: 'file', value: 'data/fer.csv' }]);
  // Every error at once, with the same locations and messages.
  const train = both(byName.train.params, { epochs: 0, batchSize: 'big', augment: { erase: 2 }, extra: true });
  assert.equal(train.valid, false);
  assert.ok(train.errors.length >= 4, JSON.stringify(train.errors));
  const core = both(coreSchema, { name: 'x', stages: { a: { uses: 'split', with: {} } }, seed: 'no' });
  assert.equal(core.valid, false);
  assert.ok(core.errors.some((e) => e.instancePath === '/seed'));
});

test('a schema the build did not compile has no precompiled validator, and is compiled on first use', () => {
  const schema = { type: 'object', properties: { file: { type: 'string', 'x-pipe-path': 'file' } } };
  assert.equal(precompiledValidator(schema), undefined);
  const { valid, paths } = validateWithPaths(compileValidator(schema), { file: 'a.csv' });
  assert.equal(valid, true);
  assert.deepEqual(paths, [{ at: ['file'], kind: 'file', value: 'a.csv' }]);
});
