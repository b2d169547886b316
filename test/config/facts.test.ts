// Output facts at validate time: the built-in stages tell the image shape their datasets hold and the one their
// models take, pass-through stages carry it on, and train and evaluate refuse a model that takes other images
// than its data holds, at their `inputs:` entry, before anything runs.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { deriveFacts } from '../../src/config/facts.js';
import { loadPipeline } from '../../src/config/load.js';
import { PipeError, PipeErrors } from '../../src/errors.js';
import { defineStage } from '../../src/stage.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixtureStages = fileURLToPath(new URL('../fixtures/stages/', import.meta.url));

async function problemsOf(file: string, sets: string[] = []): Promise<PipeError[]> {
  try {
    await loadPipeline(file, { cwd: repoRoot, sets });
  } catch (err) {
    assert.ok(err instanceof PipeErrors, `expected PipeErrors, got ${String(err)}`);
    return err.errors;
  }
  assert.fail(`${file} loaded without errors`);
}

/** A pipeline file of built-in stages in a fresh folder, its path returned; removed after the test. */
async function pipelineFile(t: { after(fn: () => Promise<void>): void }, yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-facts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'pipeline.yaml');
  await writeFile(file, yaml);
  return file;
}

const LAYERS = `      layers:
        - flatten: {}
        - dense: { units: 7, activation: softmax }`;

/** ingest-csv → split → normalise → train, with build-model's inputShape as given. */
function csvChain(inputShape: string, middle = ''): string {
  return `name: chain
stages:
  ingest:
    uses: ingest-csv
    with: { path: faces.csv, shape: [32, 32, 3] }
  split:
    uses: split
    inputs: { data: ingest }
${middle}  normalise:
    uses: normalise
    inputs: { data: ${middle ? 'dedup' : 'split'} }
  build:
    uses: build-model
    with:
      inputShape: ${inputShape}
${LAYERS}
  train:
    uses: train
    inputs: { model: build, data: normalise }
`;
}

test('a model that takes other images than the data holds is refused at the inputs of train and of evaluate', async () => {
  const file = 'test/fixtures/shapes/model-data-mismatch.yaml';
  const errors = await problemsOf(file);
  assert.deepEqual(
    errors.map((e) => [e.location?.file, e.location?.line, e.location?.column]),
    [
      [file, 25, 35],
      [file, 29, 35],
    ],
    errors.map((e) => e.format()).join('\n'),
  );
  const [train, evaluate] = errors;
  assert.equal(
    train.message,
    "stage 'train' (train): the model takes 64×64×3 images (from build: inputShape [64, 64, 3]) but input 'data' holds 48×48×1 images (from faces: size 48, grey)",
  );
  assert.equal(train.hint, "set build's inputShape to [48, 48, 1], or make the images of faces 64×64×3 (its size param)");
  assert.match(evaluate.message, /^stage 'evaluate' \(evaluate\): the model takes 64×64×3 images .* but input 'data' holds 48×48×1 images/);
  assert.equal(train.exitCode, 2);
  assert.match(train.frame ?? '', /> 25 \|     inputs: \{ model: build, data: normalise \}/);
});

test('--set that makes the shapes agree passes; one that changes only the size still names both shapes', async () => {
  const file = 'test/fixtures/shapes/model-data-mismatch.yaml';
  await loadPipeline(file, { cwd: repoRoot, sets: ['build.inputShape=[48, 48, 1]'] });
  const [problem] = await problemsOf(file, ['faces.size=64']);
  assert.match(problem.message, /takes 64×64×3 images .* holds 64×64×1 images \(from faces: size 64, grey\)/);
});

test('the shape passes through split, deduplicate, oversample and normalise to train', async (t) => {
  const refused = await problemsOf(await pipelineFile(t, csvChain('[32, 32, 1]')));
  assert.equal(refused.length, 1, refused.map((e) => e.format()).join('\n'));
  assert.match(refused[0].message, /^stage 'train' \(train\): the model takes 32×32×1 images \(from build: inputShape \[32, 32, 1\]\) but input 'data' holds 32×32×3 images \(from ingest: shape \[32, 32, 3\]\)$/);
  assert.equal(refused[0].hint, "set build's inputShape to [32, 32, 3], or make the images of ingest 32×32×1 (its shape param)");

  const longer = `  dedup:
    uses: deduplicate
    inputs: { data: over }
  over:
    uses: oversample
    inputs: { data: split }
`;
  const viaMore = await problemsOf(await pipelineFile(t, csvChain('[16, 16, 3]', longer)));
  assert.deepEqual(viaMore.map((e) => e.message.match(/holds (\S+) images/)?.[1]), ['32×32×3']);

  const agreeing = await loadPipeline(await pipelineFile(t, csvChain('[32, 32, 3]', longer)));
  assert.deepEqual(agreeing.order, ['ingest', 'split', 'over', 'dedup', 'normalise', 'build', 'train']);
});

test('a model trained before is checked against the data of a later evaluate', async (t) => {
  const file = await pipelineFile(
    t,
    `name: two-datasets
stages:
  small:
    uses: synthetic-faces
    with: { size: 24 }
  large:
    uses: ingest-images
    with: { root: images, shape: [48, 48, 1] }
  build:
    uses: build-model
    with:
      inputShape: [24, 24, 1]
${LAYERS}
  train:
    uses: train
    inputs: { model: build, data: small }
  evaluate:
    uses: evaluate
    inputs: { model: train, data: large }
`,
  );
  const [problem, ...rest] = await problemsOf(file);
  assert.deepEqual(rest, []);
  assert.equal(problem.location?.line, 21);
  assert.match(problem.message, /^stage 'evaluate' \(evaluate\): the model takes 24×24×1 images .* holds 48×48×1 images \(from large: shape \[48, 48, 1\], grey\)$/);
});

test('every shipped pipeline and the valid fixture pipelines still validate', async () => {
  const shipped = (await readdir(join(repoRoot, 'pipelines'))).filter((f) => f.endsWith('.yaml')).map((f) => `pipelines/${f}`);
  assert.ok(shipped.length >= 7, `found ${shipped.join(', ')}`);
  for (const file of [...shipped, 'test/fixtures/use/tiny.yaml', 'docs/examples/invert.yaml']) {
    await loadPipeline(file, { cwd: repoRoot }).catch((err: unknown) => assert.fail(`${file}: ${err instanceof PipeErrors ? err.format() : String(err)}`));
  }
  for (const file of ['test/fixtures/config/numbers.yaml', 'test/fixtures/config/numbers-paths.yaml']) {
    await loadPipeline(file, { cwd: repoRoot, builtinDir: fixtureStages });
  }
});

test('facts left unknown are not checked: a dataset from a stage without the hook trains any model', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-facts-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    join(dir, 'make-data.mjs'),
    `export default { name: 'make-data', version: '1', description: 'd', params: { type: 'object' }, inputs: {},
  outputs: { data: { file: 'data.arrow', kind: 'dataset', description: 'd' } }, async run() {} };\n`,
  );
  await writeFile(
    join(dir, 'pipeline.yaml'),
    `name: unknown
stages:
  data:
    uses: ./make-data.mjs
  normalise:
    uses: normalise
    inputs: { data: data }
  build:
    uses: build-model
    with:
      inputShape: [99, 99, 3]
${LAYERS}
  train:
    uses: train
    inputs: { model: build, data: normalise }
`,
  );
  await loadPipeline(join(dir, 'pipeline.yaml'));
});

test('deriveFacts walks in order, places problems at an input, a param or the stage, and reports a failing hook', () => {
  const source = defineStage<{ n: number }>({
    name: 'source',
    version: '1',
    description: 'd',
    params: {},
    inputs: {},
    outputs: { out: { file: 'o', description: 'd' } },
    facts: (p, _inputs, { id }) => ({ outputs: { out: { count: p.n, source: { stage: id, params: ['n'], says: `n ${p.n}` } } } }),
    run: async () => {},
  });
  const sink = defineStage<Record<string, never>>({
    name: 'sink',
    version: '1',
    description: 'd',
    params: {},
    inputs: { in: { description: 'd' } },
    outputs: {},
    facts: (_p, inputs) => ({
      problems: [
        { message: `got ${String(inputs.in?.count)}`, input: 'in' },
        { message: 'at a param', at: ['level'] },
        { message: 'at the stage' },
      ],
    }),
    run: async () => {},
  });
  const broken = defineStage({ ...sink, name: 'broken', facts: () => { throw new Error('oops'); } });
  const { facts, problems } = deriveFacts(
    {
      b: { uses: 'sink', stage: sink, params: {}, inputs: { in: { stage: 'a', output: 'out' } } },
      a: { uses: 'source', stage: source, params: { n: 3 }, inputs: {} },
      c: { uses: 'broken', stage: broken, params: {}, inputs: {} },
      d: { uses: 'sink', stage: sink, inputs: {} },
    },
    ['a', 'b', 'c', 'd'],
  );
  assert.deepEqual(facts.a, { out: { count: 3, source: { stage: 'a', params: ['n'], says: 'n 3' } } });
  assert.deepEqual(
    problems.map((p) => [p.message, p.path, p.anchor]),
    [
      ["stage 'b' (sink): got 3", ['stages', 'b', 'inputs', 'in'], 'value'],
      ["stage 'b' (sink): at a param", ['stages', 'b', 'with', 'level'], 'key'],
      ["stage 'b' (sink): at the stage", ['stages', 'b'], 'key'],
      ["stage type 'broken' failed to tell its outputs' facts: oops", ['stages', 'c', 'uses'], 'value'],
    ],
  );
  assert.match(problems[3].hint ?? '', /bug in the stage module/);
});
