// Loading valid pipelines: defaults applied, inputs resolved, stages ordered, `--set` overrides applied and
// checked exactly like the file.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '../../src/config/load.js';
import { listBuiltinStages, loadStage } from '../../src/config/stage-loader.js';
import { PipeError, PipeErrors } from '../../src/errors.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const builtinDir = fileURLToPath(new URL('../fixtures/stages/', import.meta.url));
const numbers = 'test/fixtures/config/numbers.yaml';
const fixtureDir = join(repoRoot, 'test/fixtures/config');

async function overrideErrors(sets: string[]): Promise<PipeError[]> {
  try {
    await loadPipeline(numbers, { builtinDir, cwd: repoRoot, sets });
  } catch (err) {
    assert.ok(err instanceof PipeErrors, String(err));
    return err.errors;
  }
  assert.fail(`--set ${sets.join(' ')} was accepted`);
}

test('a valid pipeline loads with the core and every stage param default applied', async () => {
  const p = await loadPipeline(numbers, { builtinDir, cwd: repoRoot });
  assert.equal(p.file, join(repoRoot, numbers));
  assert.equal(p.dir, fixtureDir);
  assert.equal(p.spec.name, 'numbers');
  assert.equal(p.spec.seed, 42);
  assert.equal(p.spec.backend, 'auto');
  assert.equal(p.cacheSettings.dir, undefined);
  assert.deepEqual(p.stages.small.params, { count: 3, source: './inputs/seed.txt', label: 'n', shape: { width: 4, height: 4 } });
  assert.deepEqual(p.stages.big.params, { count: 10, label: 'n', shape: { width: 4, height: 4 } });
  // The spec carries the same defaulted params.
  assert.equal(p.spec.stages.big.with, p.stages.big.params);
  assert.equal(p.stages.big.stage.name, 'make-numbers');
  assert.equal(p.stages.big.modulePath, join(builtinDir, 'make-numbers.js'));
  // Two stages of one type share the module (and so its compiled validator).
  assert.equal(p.stages.big.stage, p.stages.small.stage);
  // Path params are reported as written: relative to the pipeline file, resolved later by the stage.
  assert.deepEqual(p.stages.small.pathParams, [{ at: ['source'], kind: 'file', value: './inputs/seed.txt' }]);
  assert.deepEqual(p.stages.big.pathParams, []);
});

test('inputs resolve to upstream outputs, and stages are ordered after what they read', async () => {
  const p = await loadPipeline(numbers, { builtinDir, cwd: repoRoot });
  assert.deepEqual(p.stages.merged.inputs, { left: { stage: 'small', output: 'data' }, right: { stage: 'scaled', output: 'data' } });
  assert.deepEqual(p.stages.scaled.inputs, { data: { stage: 'big', output: 'data' } });
  assert.deepEqual(p.order, ['small', 'big', 'scaled', 'merged']);
});

test('stages given as paths load TypeScript modules relative to the pipeline file', async () => {
  const p = await loadPipeline('test/fixtures/config/numbers-paths.yaml', { cwd: repoRoot });
  assert.equal(p.stages.scaled.modulePath, join(repoRoot, 'test/fixtures/stages/scale.ts'));
  assert.equal(p.stages.scaled.stage.name, 'scale');
  assert.deepEqual(p.stages.big.params, { count: 10, label: 'n', shape: { width: 4, height: 4 } });
});

test('--set overrides params, nested params and top-level keys, with values read as YAML', async () => {
  const p = await loadPipeline(numbers, {
    builtinDir,
    cwd: repoRoot,
    sets: ['big.count=20', 'small.shape.width=8', 'scaled.factor=0.5', 'seed=7', 'backend=cpu', 'name=2024', 'small.label=true'],
  });
  assert.equal(p.stages.big.params.count, 20);
  assert.deepEqual(p.stages.small.params.shape, { width: 8, height: 4 });
  assert.equal(p.stages.scaled.params.factor, 0.5);
  assert.equal(p.spec.seed, 7);
  assert.equal(p.spec.backend, 'cpu');
  // A field that takes a string keeps the text typed, rather than the number or boolean YAML would make of it.
  assert.equal(p.spec.name, '2024');
  assert.equal(p.stages.small.params.label, 'true');
  const flow = await loadPipeline(numbers, { builtinDir, cwd: repoRoot, sets: ['big.shape={width: 2}'] });
  assert.deepEqual(flow.stages.big.params.shape, { width: 2, height: 4 });
});

test('a path given with --set is relative to the working directory, not to the pipeline file', async () => {
  const cwd = join(repoRoot, 'test');
  const p = await loadPipeline(join(repoRoot, numbers), { builtinDir, cwd, sets: ['small.source=data/seed.txt', 'big.source=~/seed.txt'] });
  assert.equal(p.stages.small.params.source, join(cwd, 'data/seed.txt'));
  assert.deepEqual(p.stages.small.pathParams, [{ at: ['source'], kind: 'file', value: join(cwd, 'data/seed.txt') }]);
  assert.ok(!String(p.stages.big.params.source).startsWith('~'), 'a leading ~/ means the home folder');
  const cache = await loadPipeline(join(repoRoot, numbers), { builtinDir, cwd, sets: ['cache=store'] });
  assert.equal(cache.cacheSettings.dir, join(cwd, 'store'));
});

test('--set overrides are validated like the file, and errors name the --set they came from', async () => {
  const errors = await overrideErrors(['big.count=abc', 'big.cuont=2', 'smal.count=3', 'seed=-3', 'noequals', 'big=3', 'big.count=[1']);
  const byText = (text: string) => {
    const e = errors.find((x) => x.message.startsWith(`in --set ${text}: `));
    assert.ok(e, `no error for --set ${text} in:\n${errors.map((x) => x.message).join('\n')}`);
    assert.equal(e.location, undefined);
    return e;
  };
  assert.equal(byText('big.count=abc').message, 'in --set big.count=abc: param \'count\' of stage \'big\' must be an integer, got "abc"');
  assert.equal(byText('big.cuont=2').message, "in --set big.cuont=2: unknown param 'cuont' for stage 'big' (make-numbers)");
  assert.equal(byText('big.cuont=2').hint, "did you mean 'count'?");
  assert.equal(byText('smal.count=3').message, "in --set smal.count=3: no stage or top-level key named 'smal'");
  assert.equal(byText('smal.count=3').hint, "did you mean 'small'?");
  assert.equal(byText('seed=-3').message, "in --set seed=-3: 'seed' must be >= 0, got -3");
  assert.equal(byText('noequals').message, 'in --set noequals: expected path=value');
  assert.equal(byText('big=3').message, "in --set big=3: 'big' names a stage but no param");
  assert.match(byText('big.count=[1').message, /^in --set big\.count=\[1: the value is not valid YAML/);
  assert.equal(errors.length, 7);
});

test('an override that builds a deeper key than the file has is still blamed on the --set', async () => {
  const errors = await overrideErrors(['small.shape.width.x=1']);
  assert.equal(errors.length, 1);
  assert.equal(errors[0].message, 'in --set small.shape.width.x=1: param \'shape.width\' of stage \'small\' must be an integer, got {"x":1}');
});

test('a problem in the file is still reported at its line when overrides are given', async () => {
  try {
    await loadPipeline('test/fixtures/broken/out-of-range.yaml', { builtinDir, cwd: repoRoot, sets: ['numbers.label=x'] });
    assert.fail('loaded');
  } catch (err) {
    assert.ok(err instanceof PipeErrors);
    assert.equal(err.errors.length, 1);
    assert.deepEqual([err.errors[0].location?.line, err.errors[0].location?.column], [6, 20]);
  }
  // ...and an override can fix it.
  const fixed = await loadPipeline('test/fixtures/broken/out-of-range.yaml', { builtinDir, cwd: repoRoot, sets: ['numbers.count=5'] });
  assert.equal(fixed.stages.numbers.params.count, 5);
});

test('listBuiltinStages names the .js modules of the stage folder', () => {
  assert.deepEqual(listBuiltinStages(builtinDir), ['make-numbers', 'merge', 'scale']);
  assert.deepEqual(listBuiltinStages(join(repoRoot, 'no-such-folder')), []);
  // The real built-in stages are the compiled stages/*.ts files.
  const sources = readdirSync(join(repoRoot, 'stages'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.slice(0, -3))
    .sort();
  const compiled = listBuiltinStages();
  for (const name of sources) assert.ok(compiled.includes(name), `stages/${name}.ts is not among the built-in stages: ${compiled.join(', ')}`);
});

test('loadStage returns the stage and the absolute path of its module, or a PipeError', async () => {
  const loaded = await loadStage('../stages/merge.ts', fixtureDir);
  assert.equal(loaded.stage.name, 'merge');
  assert.equal(loaded.modulePath, join(repoRoot, 'test/fixtures/stages/merge.ts'));
  const builtin = await loadStage('scale', fixtureDir, builtinDir);
  assert.equal(builtin.modulePath, join(builtinDir, 'scale.js'));
  await assert.rejects(loadStage('./stages/crop.txt', fixtureDir), (err: unknown) => {
    assert.ok(err instanceof PipeError);
    assert.equal(err.message, "stage module './stages/crop.txt' must be a .ts, .mts, .js or .mjs file");
    return true;
  });
  await assert.rejects(loadStage('scael', fixtureDir, builtinDir), /unknown stage type 'scael'/);
});
