// The editor schema composed from the core schema and stage param schemas: it must accept what the loader
// accepts and catch per-stage mistakes, so editors flag them as the loader would.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { composePipelineSchema } from '../../src/config/compose-schema.js';
import { loadStage } from '../../src/config/stage-loader.js';
import type { Stage } from '../../src/stage.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const builtinDir = fileURLToPath(new URL('../fixtures/stages/', import.meta.url));

async function fixtureStages(): Promise<Stage[]> {
  return Promise.all(['make-numbers', 'merge', 'scale'].map(async (n) => (await loadStage(n, repoRoot, builtinDir)).stage));
}

async function editorValidator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(composePipelineSchema(await fixtureStages()));
}

async function readPipeline(rel: string): Promise<Record<string, any>> {
  return parse(await readFile(join(repoRoot, rel), 'utf8')) as Record<string, any>;
}

test('the composed schema accepts valid pipelines, with built-in names or module paths in uses', async () => {
  const validate = await editorValidator();
  for (const file of ['test/fixtures/config/numbers.yaml', 'test/fixtures/config/numbers-paths.yaml']) {
    assert.ok(validate(await readPipeline(file)), `${file}: ${JSON.stringify(validate.errors)}`);
  }
});

test('the composed schema catches per-stage param and input mistakes', async () => {
  const validate = await editorValidator();
  const cases: Array<[string, string]> = [
    ['test/fixtures/broken/unknown-param.yaml', '/stages/numbers/with'],
    ['test/fixtures/broken/wrong-param-type.yaml', '/stages/numbers/with/count'],
    ['test/fixtures/broken/missing-required-param.yaml', '/stages/scaled'],
    ['test/fixtures/broken/unknown-input-name.yaml', '/stages/scaled/inputs'],
    ['test/fixtures/broken/misspelt-stage-type.yaml', '/stages/numbers/uses'],
    ['test/fixtures/broken/unknown-top-level-key.yaml', ''],
  ];
  for (const [file, at] of cases) {
    assert.equal(validate(await readPipeline(file)), false, `${file} passed the editor schema`);
    assert.ok(validate.errors?.some((e) => e.instancePath === at), `${file}: no error at '${at}': ${JSON.stringify(validate.errors)}`);
  }
});

test('the composed schema keeps descriptions for editors', async () => {
  const schema = composePipelineSchema(await fixtureStages()) as any;
  assert.equal(schema.properties.seed.description.length > 0, true);
  const uses = schema.definitions.stage.properties.uses.anyOf;
  assert.deepEqual(uses.find((u: any) => u.const === 'scale'), { const: 'scale', description: 'Multiplies every number by a factor.' });
  const scale = schema.definitions.stage.allOf.find((b: any) => b.if.properties.uses.const === 'scale');
  assert.equal(scale.then.properties.with.properties.factor.description, 'What to multiply by.');
  assert.deepEqual(scale.then.properties.inputs.required, ['data']);
});

test('the committed schemas/pipeline.schema.json compiles and accepts a minimal pipeline', async () => {
  const schema = JSON.parse(await readFile(join(repoRoot, 'schemas/pipeline.schema.json'), 'utf8'));
  const validate = new Ajv({ strict: false }).compile(schema);
  assert.ok(validate({ name: 'x', stages: { mine: { uses: './stages/mine.ts', with: { a: 1 } } } }), JSON.stringify(validate.errors));
  assert.equal(validate({ name: 'x', stages: { mine: { uses: 'mine' } } }), false);
});

test('the committed schema is what `pipe schema` generates now, and every shipped pipeline passes it', async () => {
  const { spawnSync } = await import('node:child_process');
  const check = spawnSync(process.execPath, [join(repoRoot, 'bin/pipe.js'), 'schema', '--check'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(check.status, 0, `${check.stdout}${check.stderr}\nrun 'pipe schema' and commit schemas/pipeline.schema.json`);
  const schema = JSON.parse(await readFile(join(repoRoot, 'schemas/pipeline.schema.json'), 'utf8'));
  const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
  const { readdir } = await import('node:fs/promises');
  for (const file of (await readdir(join(repoRoot, 'pipelines'))).filter((f) => f.endsWith('.yaml'))) {
    const doc = parse(await readFile(join(repoRoot, 'pipelines', file), 'utf8'));
    assert.ok(validate(doc), `${file}: ${JSON.stringify(validate.errors)}`);
  }
});
