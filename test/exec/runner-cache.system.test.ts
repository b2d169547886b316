// The runner's caching contract, end to end through the real CLI on a toy pipeline of four fast stages.
import assert from 'node:assert/strict';
import { cp, readdir, readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeToyProject, spawnPipe, TOY_PIPELINE, TOY_STAGES, type ToyProject } from '../../harness/toy-project.js';
import type { RunRecord } from '../../src/runs/record.js';

function runJson(project: ToyProject, args: string[] = [], env: Record<string, string> = {}): RunRecord {
  const result = project.pipe(['run', 'pipeline.yaml', '--json', ...args], env);
  assert.equal(result.status, 0, `pipe run failed:\n${result.stderr}\n${result.stdout}`);
  return JSON.parse(result.stdout) as RunRecord;
}

function statuses(record: RunRecord): Record<string, string> {
  return Object.fromEntries(Object.entries(record.stages).map(([id, s]) => [id, s.status]));
}

async function reportText(project: ToyProject, record: RunRecord, root = join(project.dir, 'artifacts')): Promise<string> {
  return readFile(join(root, record.stages.report.outputs.text), 'utf8');
}

describe('pipe run caching', () => {
  it('runs everything first, nothing second, and only a changed stage and its downstream after an edit', async () => {
    const project = await makeToyProject();
    const first = runJson(project);
    assert.deepEqual(statuses(first), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.equal(await reportText(project, first), 'total: 30\n');

    const second = runJson(project);
    assert.deepEqual(statuses(second), { source: 'cached', scale: 'cached', sum: 'cached', report: 'cached' });

    const third = runJson(project, ['--set', 'scale.factor=3']);
    assert.deepEqual(statuses(third), { source: 'cached', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.equal(await reportText(project, third), 'total: 45\n');

    // The same edit in the file is the same key: everything is cached now.
    await writeFile(project.pipeline, TOY_PIPELINE.replace('factor: 2', 'factor: 3'));
    assert.deepEqual(statuses(runJson(project)), { source: 'cached', scale: 'cached', sum: 'cached', report: 'cached' });
  });

  it('explains why stages are stale', async () => {
    const project = await makeToyProject();
    const before = project.pipe(['status', 'pipeline.yaml']);
    assert.match(before.stdout, /stale\s+source.*never run/);
    runJson(project);
    const status = project.pipe(['status', 'pipeline.yaml', '--set', 'scale.factor=10']);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /cached\s+source/);
    assert.match(status.stdout, /stale\s+scale.*params changed: scale\.factor 2 → 10/);
    assert.match(status.stdout, /stale\s+sum.*input changed: scale/);
    assert.match(status.stdout, /3 of 4 stages would run/);
  });

  it('re-runs a stage whose code or version changed, and its downstream', async () => {
    const project = await makeToyProject();
    runJson(project);
    const file = join(project.dir, 'stages', 'sum.mjs');
    await writeFile(file, TOY_STAGES['sum.mjs'].replace("version: '1'", "version: '2'"));
    const status = project.pipe(['status', 'pipeline.yaml']);
    assert.match(status.stdout, /stale\s+sum.*stage version changed: 1 → 2/);
    assert.deepEqual(statuses(runJson(project)), { source: 'cached', scale: 'cached', sum: 'ran', report: 'ran' });
  });

  it('re-runs a stage when a local module it imports changes', async () => {
    const project = await makeToyProject();
    const sumFile = join(project.dir, 'stages', 'sum.mjs');
    await writeFile(join(project.dir, 'stages', 'lib.mjs'), 'export const bonus = 0;\n');
    await writeFile(sumFile, `import { bonus } from './lib.mjs';\n${TOY_STAGES['sum.mjs'].replace('const sum = numbers', 'const sum = bonus + numbers')}`);
    runJson(project);
    await writeFile(join(project.dir, 'stages', 'lib.mjs'), 'export const bonus = 100;\n');
    const status = project.pipe(['status', 'pipeline.yaml']);
    assert.match(status.stdout, /stale\s+sum.*stage code changed/);
    const record = runJson(project);
    assert.deepEqual(statuses(record), { source: 'cached', scale: 'cached', sum: 'ran', report: 'ran' });
    assert.equal(await reportText(project, record), 'total: 130\n');
  });

  it('re-runs a stage when a file its module loads by URL changes (a worker script, a WebAssembly module)', async () => {
    const project = await makeToyProject();
    const sumFile = join(project.dir, 'stages', 'sum.mjs');
    await writeFile(join(project.dir, 'stages', 'bonus.bin'), Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    const loader = `import { readFileSync as readAsset } from 'node:fs';\nconst bonus = readAsset(new URL('./bonus.bin', import.meta.url))[3];\n`;
    await writeFile(sumFile, loader + TOY_STAGES['sum.mjs'].replace('const sum = numbers', 'const sum = bonus + numbers'));
    assert.equal(await reportText(project, runJson(project)), 'total: 31\n');
    // Bytes that decode to the same replacement characters as text: the hash must see the difference.
    await writeFile(join(project.dir, 'stages', 'bonus.bin'), Buffer.from([0xfe, 0xff, 0x00, 0x02]));
    const status = project.pipe(['status', 'pipeline.yaml']);
    assert.match(status.stdout, /stale\s+sum.*stage code changed/);
    const record = runJson(project);
    assert.deepEqual(statuses(record), { source: 'cached', scale: 'cached', sum: 'ran', report: 'ran' });
    assert.equal(await reportText(project, record), 'total: 32\n');
  });

  it('hashes the content of files a stage reads, not their path or time', async () => {
    const project = await makeToyProject(TOY_PIPELINE.replace('with: { n: 5 }', 'with: { n: 5, file: input.txt }'));
    await writeFile(join(project.dir, 'input.txt'), 'abc');
    assert.equal(statuses(runJson(project)).source, 'ran');
    await writeFile(join(project.dir, 'input.txt'), 'abc'); // same bytes, new mtime
    assert.equal(statuses(runJson(project)).source, 'cached');
    await writeFile(join(project.dir, 'input.txt'), 'abcd');
    const status = project.pipe(['status', 'pipeline.yaml']);
    assert.match(status.stdout, /stale\s+source.*file changed: source\.file \(input\.txt\)/);
    assert.equal(statuses(runJson(project)).source, 'ran');
  });

  it('detects a corrupted artifact, reports it and rebuilds it', async () => {
    const project = await makeToyProject();
    const first = runJson(project);
    const path = join(project.dir, 'artifacts', first.stages.sum.outputs.sum);
    const text = await readFile(path, 'utf8');
    await writeFile(path, text.replace(/\d/, (d) => String((Number(d) + 1) % 10)));
    const result = project.pipe(['run', 'pipeline.yaml']);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout + result.stderr, /damaged/);
    const again = runJson(project);
    assert.equal(await reportText(project, again), 'total: 30\n');
    assert.equal(JSON.parse(await readFile(path, 'utf8')).sum, 30);
  });

  it('gives full hits from a copy of the cache in another checkout', async () => {
    const a = await makeToyProject();
    runJson(a);
    const b = await makeToyProject();
    await cp(join(a.dir, 'artifacts'), join(b.dir, 'restored-cache'), { recursive: true });
    const record = runJson(b, [], { PIPE_ARTIFACTS: join(b.dir, 'restored-cache') });
    assert.deepEqual(statuses(record), { source: 'cached', scale: 'cached', sum: 'cached', report: 'cached' });
  });

  it('leaves nothing half-written when killed mid-stage, and the next run redoes only what is missing', async () => {
    const project = await makeToyProject(TOY_PIPELINE.replace('with: { factor: 2 }', 'with: { factor: 2, delayMs: 400 }'));
    const child = spawnPipe(project.dir, ['run', 'pipeline.yaml']);
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d) => {
        out += d;
      });
      const timer = setInterval(async () => {
        // Kill once `scale` is busy: `source` is stored and scale's temp entry exists.
        const tmp = await readdir(join(project.dir, 'artifacts', 'tmp')).catch(() => []);
        const stored = await readdir(join(project.dir, 'artifacts', 'entries')).catch(() => []);
        if (tmp.length > 0 && stored.length > 0) {
          clearInterval(timer);
          child.kill('SIGKILL');
          resolve();
        }
      }, 50);
      child.on('exit', () => {
        clearInterval(timer);
        reject(new Error(`run ended before it could be killed:\n${out}`));
      });
    });
    await new Promise((r) => child.once('exit', r));
    const entries = (await readdir(join(project.dir, 'artifacts', 'entries'), { recursive: true })).filter((p) => p.endsWith('manifest.json'));
    assert.equal(entries.length, 1, 'only the finished stage is stored');
    const record = runJson(project);
    assert.deepEqual(statuses(record), { source: 'cached', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.equal(await reportText(project, record), 'total: 30\n');
  });

  it('stops at a safe point on Ctrl-C (SIGINT), exits 130, records the run as interrupted, and keeps what finished', async () => {
    const project = await makeToyProject(TOY_PIPELINE.replace('with: { factor: 2 }', 'with: { factor: 2, delayMs: 400 }'));
    const child = spawnPipe(project.dir, ['run', 'pipeline.yaml']);
    let err = '';
    let out = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    for (;;) {
      const stored = await readdir(join(project.dir, 'artifacts', 'entries')).catch(() => []);
      const tmp = await readdir(join(project.dir, 'artifacts', 'tmp')).catch(() => []);
      // scale's first progress line: it is running (a temp entry alone may still be source's, being committed).
      if (stored.length > 0 && tmp.length > 0 && out.includes('item 1/')) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 130, err);
    assert.match(err, /SIGINT: stopping at the next safe point/);
    const runs = project.pipe(['runs', '--json']);
    const last = (JSON.parse(runs.stdout) as RunRecord[])[0];
    assert.equal(last.status, 'interrupted');
    assert.equal(last.stages.source.status, 'ran');
    assert.equal(last.stages.scale.status, 'interrupted');
    assert.deepEqual(await readdir(join(project.dir, 'artifacts', 'tmp')), [], 'no temporary entry is left behind');
    assert.deepEqual(statuses(runJson(project)), { source: 'cached', scale: 'ran', sum: 'ran', report: 'ran' });
  });

  it('keeps the store sound when two runs race on the same pipeline', async () => {
    const project = await makeToyProject(TOY_PIPELINE.replace('with: { factor: 2 }', 'with: { factor: 2, delayMs: 60 }'));
    const runs = [spawnPipe(project.dir, ['run', 'pipeline.yaml', '--json']), spawnPipe(project.dir, ['run', 'pipeline.yaml', '--json'])];
    const outputs = await Promise.all(
      runs.map(
        (child) =>
          new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
            let out = '';
            let err = '';
            child.stdout.on('data', (d) => (out += d));
            child.stderr.on('data', (d) => (err += d));
            child.on('exit', (code) => resolve({ code, out, err }));
          }),
      ),
    );
    for (const o of outputs) assert.equal(o.code, 0, o.err);
    const records = outputs.map((o) => JSON.parse(o.out) as RunRecord);
    // Each stage was built by exactly one of the two runs; the other took it from the cache.
    for (const id of ['source', 'scale', 'sum', 'report']) {
      const ran = records.filter((r) => r.stages[id].status === 'ran').length;
      assert.equal(ran, 1, `${id} built once`);
    }
    const third = runJson(project);
    assert.deepEqual(statuses(third), { source: 'cached', scale: 'cached', sum: 'cached', report: 'cached' });
    assert.equal(await reportText(project, third), 'total: 30\n');
    await rm(project.dir, { recursive: true, force: true });
  });

  it('runs a subset with --until and --only, and --force re-runs', async () => {
    const project = await makeToyProject();
    assert.deepEqual(statuses(runJson(project, ['--until', 'scale'])), { source: 'ran', scale: 'ran' });
    const only = project.pipe(['run', 'pipeline.yaml', '--only', 'report']);
    assert.equal(only.status, 1);
    assert.match(only.stderr, /'report' was skipped: upstream stage 'sum' is not in the cache/);
    assert.deepEqual(statuses(runJson(project, ['--only', 'sum'])), { sum: 'ran' });
    assert.deepEqual(statuses(runJson(project, ['--force=scale'])), { source: 'cached', scale: 'ran', sum: 'cached', report: 'ran' });
  });
});
