// `pipe compare` as a user runs it: the real CLI in a child process, over a store of real run records whose
// metrics outputs are real metrics.json files where the records point.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { RunRecord, StageRecord } from '../../src/runs/record.js';
import { latestRunOf, listRuns, readRun } from '../../src/runs/read.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PIPE = join(REPO, 'bin', 'pipe.js');

let root: string;
let store: string;

interface Cli {
  code: number;
  stdout: string;
  stderr: string;
}

async function pipe(args: string[], env: Record<string, string> = {}): Promise<Cli> {
  const { PIPE_ARTIFACTS: _ignored, ...base } = process.env;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [PIPE, ...args], { cwd: root, env: { ...base, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function stage(uses: string, params: Record<string, unknown>, status: StageRecord['status'], seconds: number, outputs: Record<string, string> = {}): StageRecord {
  return { uses, key: `${uses}-${JSON.stringify(params)}`.padEnd(64, '0'), status, seconds, params, inputs: {}, outputs };
}

async function metricsFile(key: string, test: { accuracy: number; balancedAccuracy: number; macroF1: number; loss: number }, withValidation = true): Promise<string> {
  const rel = `entries/${key.slice(0, 2)}/${key}/out/metrics.json`;
  await mkdir(join(store, dirname(rel)), { recursive: true });
  const split = (m: typeof test) => ({ split: 'PrivateTest', count: 3589, ...m, perClass: [], classes: ['a', 'b'], confusion: [[1, 0], [0, 1]] });
    const splits = withValidation ? { validation: split({ ...test, accuracy: test.accuracy - 0.01 }), test: split(test) } : { test: split(test) };
  await writeFile(join(store, rel), JSON.stringify({ splits, backend: 'wasm' }));
  return rel;
}

async function writeRecord(record: RunRecord): Promise<void> {
  await mkdir(join(store, 'runs', record.id), { recursive: true });
  await writeFile(join(store, 'runs', record.id, 'run.json'), JSON.stringify(record, null, 2));
}

function record(id: string, name: string, startedAt: string, stages: Record<string, StageRecord>, seconds: number): RunRecord {
  return {
    id,
    pipeline: { name, file: `pipelines/${name}.yaml` },
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + seconds * 1000).toISOString(),
    status: 'ok',
    seed: 42,
    backend: { requested: 'auto', resolved: 'wasm' },
    argv: [],
    stages,
  };
}

const LAYERS = (filters: number) => [{ conv2d: { filters: 32, kernelSize: 3 } }, { maxPooling2d: { poolSize: 2 } }, { conv2d: { filters, kernelSize: 3 } }];

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'pipe-compare-'));
  store = join(root, 'artifacts');
  const paper = await metricsFile('aa11', { accuracy: 0.8301, balancedAccuracy: 0.8277, macroF1: 0.829, loss: 0.61 });
  const honest = await metricsFile('bb22', { accuracy: 0.6312, balancedAccuracy: 0.5904, macroF1: 0.6011, loss: 1.02 });
  const older = await metricsFile('cc33', { accuracy: 0.41, balancedAccuracy: 0.4, macroF1: 0.4, loss: 1.6 }, false);
  await writeRecord(
    record('2026-01-05T10-00-00-000Z-aaaa', 'fer-paper', '2026-01-05T10:00:00.000Z', {
      ingest: stage('ingest-csv', { path: 'fer2013.csv.gz' }, 'cached', 0),
      oversample: stage('oversample', { strategy: 'auto', splits: 'all' }, 'ran', 4.5),
      build: stage('build-model', { layers: LAYERS(64) }, 'ran', 1.2),
      train: stage('train', { epochs: 32, batchSize: 64 }, 'ran', 754),
      evaluate: stage('evaluate', { splits: ['validation', 'test'] }, 'ran', 20, { metrics: paper }),
    }, 800),
  );
  await writeRecord(
    record('2026-01-05T11-00-00-000Z-bbbb', 'fer-honest', '2026-01-05T11:00:00.000Z', {
      ingest: stage('ingest-csv', { path: 'fer2013.csv.gz' }, 'cached', 0),
      oversample: stage('oversample', { strategy: 'auto', splits: ['train'] }, 'ran', 3.25),
      build: stage('build-model', { layers: LAYERS(128) }, 'cached', 0),
      train: stage('train', { epochs: 10, batchSize: 64 }, 'ran', 300),
      evaluate: stage('evaluate', { splits: ['validation', 'test'] }, 'ran', 21, { metrics: honest }),
    }, 330),
  );
  // An older run of fer-honest: `compare <pipeline>` must take the newest one.
  await writeRecord(
    record('2026-01-04T09-00-00-000Z-cccc', 'fer-honest', '2026-01-04T09:00:00.000Z', {
      evaluate: stage('evaluate', { splits: ['test'] }, 'ran', 5, { metrics: older }),
    }, 10),
  );
  // A record cut short: listings skip it.
  await mkdir(join(store, 'runs', '2026-01-06T00-00-00-000Z-dead'), { recursive: true });
  await writeFile(join(store, 'runs', '2026-01-06T00-00-00-000Z-dead', 'run.json'), '{"id": "2026-01-06');
  await mkdir(join(root, 'pipelines'));
  await writeFile(join(root, 'pipelines', 'paper.yaml'), 'name: fer-paper\nstages: {}\n');
  await writeFile(join(root, 'pipelines', 'honest.yaml'), 'name: fer-honest\nstages: {}\n');
  await writeFile(join(root, 'pipelines', 'never.yaml'), 'name: never-ran\nstages: {}\n');
});

after(() => rm(root, { recursive: true, force: true }));

test('run records: newest first, unreadable ones skipped, ids by unique prefix, latest per pipeline', async () => {
  const runs = await listRuns(store);
  assert.deepEqual(runs.map((r) => r.id.slice(-4)), ['bbbb', 'aaaa', 'cccc']);
  assert.equal((await readRun(store, '2026-01-05T10')).id, '2026-01-05T10-00-00-000Z-aaaa');
  await assert.rejects(readRun(store, '2026-01-05'), /ambiguous/);
  await assert.rejects(readRun(store, 'nope'), /no run 'nope'/);
  assert.equal((await latestRunOf(store, 'fer-honest'))?.id.slice(-4), 'bbbb');
  assert.equal(await latestRunOf(store, 'never-ran'), undefined);
  assert.deepEqual(await listRuns(join(root, 'no-store-here')), []);
});

test('pipe compare <pipeline> <pipeline>: differing params, metrics side by side, durations', async () => {
  const { code, stdout, stderr } = await pipe(['compare', 'pipelines/paper.yaml', 'pipelines/honest.yaml']);
  assert.equal(code, 0, stderr);
  const lines = stdout.split('\n');
  const row = (name: string) => lines.find((l) => l.startsWith(`${name} `))?.split(/\s{3,}/);
  assert.deepEqual(row('pipeline'), ['pipeline', 'fer-paper', 'fer-honest', 'Δ last − first']);
  assert.deepEqual(row('oversample.splits'), ['oversample.splits', 'all', '[train]']);
  assert.deepEqual(row('build.layers[2].conv2d.filters'), ['build.layers[2].conv2d.filters', '64', '128']);
  assert.deepEqual(row('train.epochs'), ['train.epochs', '32', '10']);
  assert.deepEqual(row('test accuracy'), ['test accuracy', '83.0%', '63.1%', '−19.9 pp']);
  assert.deepEqual(row('test balanced accuracy'), ['test balanced accuracy', '82.8%', '59.0%', '−23.7 pp']);
  assert.deepEqual(row('validation accuracy'), ['validation accuracy', '82.0%', '62.1%', '−19.9 pp']);
  assert.deepEqual(row('test macro F1'), ['test macro F1', '0.829', '0.601', '−0.228']);
  assert.deepEqual(row('train'), ['train', '12m34s', '5m00s']);
  assert.deepEqual(row('build'), ['build', '1.2 s', 'cached']);
  assert.deepEqual(row('total (wall time)'), ['total (wall time)', '13m20s', '5m30s']);
  // Identical params are left out.
  for (const same of ['train.batchSize', 'ingest.path', 'seed', 'build.layers[0].conv2d.filters', 'oversample.strategy']) {
    assert.equal(row(same), undefined, `${same} is the same in both runs`);
  }
});

test('pipe compare --json by id prefix gives raw numbers', async () => {
  const { code, stdout, stderr } = await pipe(['compare', '2026-01-05T11', '2026-01-04', '--json', '--cache', store]);
  assert.equal(code, 0, stderr);
  const c = JSON.parse(stdout);
  assert.deepEqual(c.runs.map((r: { id: string }) => r.id.slice(-4)), ['bbbb', 'cccc']);
  const metric = (split: string, name: string) => c.metrics.find((m: { split: string; metric: string }) => m.split === split && m.metric === name)?.values;
  assert.deepEqual(metric('test', 'accuracy'), [0.6312, 0.41]);
  assert.deepEqual(metric('validation', 'accuracy'), [0.6212, null]);
  const params = Object.fromEntries(c.params.map((p: { path: string; values: unknown[] }) => [p.path, p.values]));
  // A stage the other run lacks shows once, as its `uses`, not param by param.
  assert.deepEqual(params['train.uses'], ['train', null]);
  assert.equal(params['train.epochs'], undefined);
  assert.deepEqual(params['evaluate.splits'], ['[validation, test]', '[test]']);
  const train = c.durations.find((d: { stage: string }) => d.stage === 'train').values;
  assert.deepEqual(train, [{ status: 'ran', seconds: 300 }, null]);
});

test('pipe compare --markdown prints one GitHub table', async () => {
  const { code, stdout } = await pipe(['compare', 'pipelines/paper.yaml', 'pipelines/honest.yaml', '--markdown'], { PIPE_ARTIFACTS: store });
  assert.equal(code, 0);
  const lines = stdout.trimEnd().split('\n');
  assert.ok(lines.every((l) => l.startsWith('| ') && l.endsWith(' |')), stdout);
  assert.equal(lines[1], '| --- | ---: | ---: | ---: |');
  assert.ok(lines.includes('| **params that differ** |  |  |  |'));
  assert.ok(lines.includes('| test accuracy | 83.0% | 63.1% | −19.9 pp |'));
  assert.ok(lines.includes('| oversample.splits | all | \\[train\\] |  |'));
});

test('pipe compare: clear errors for unknown runs, pipelines that never ran, and too few targets', async () => {
  const unknown = await pipe(['compare', 'pipelines/paper.yaml', 'zzz']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /error: no run 'zzz' in .*runs/);
  assert.match(unknown.stderr, /hint: `pipe runs` lists/);

  const never = await pipe(['compare', 'pipelines/paper.yaml', 'pipelines/never.yaml']);
  assert.equal(never.code, 2);
  assert.match(never.stderr, /pipeline 'never-ran' \(pipelines\/never\.yaml\) has no runs/);
  assert.match(never.stderr, /hint: run it first: pipe run pipelines\/never\.yaml/);

  const missing = await pipe(['compare', 'pipelines/paper.yaml', 'pipelines/absent.yaml']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /pipeline file pipelines\/absent\.yaml not found/);

  const one = await pipe(['compare', 'pipelines/paper.yaml']);
  assert.equal(one.code, 2);
  assert.match(one.stderr, /at least two runs or pipelines/);

  const ambiguous = await pipe(['compare', '2026-01-05', 'pipelines/paper.yaml']);
  assert.equal(ambiguous.code, 2);
  assert.match(ambiguous.stderr, /ambiguous/);
});
