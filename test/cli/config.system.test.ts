// `pipe validate` and `pipe schema` as a user runs them: the real CLI in a child process.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

function pipe(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/pipe.js', ...args], { cwd: repoRoot }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

test('pipe validate: a valid pipeline prints its name and stage count, exit 0', async () => {
  const r = await pipe('validate', 'test/fixtures/config/numbers-paths.yaml');
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'ok: numbers-from-paths, 4 stages\n');
  assert.equal(r.code, 0);
});

test('pipe validate: --set is applied and checked', async () => {
  const ok = await pipe('validate', 'test/fixtures/config/numbers-paths.yaml', '--set', 'big.count=20', '--set=name=renamed');
  assert.equal(ok.stdout, 'ok: renamed, 4 stages\n');
  assert.equal(ok.code, 0);
  const bad = await pipe('validate', 'test/fixtures/config/numbers-paths.yaml', '--set', 'big.cuont=20');
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^error: in --set big\.cuont=20: unknown param 'cuont' for stage 'big' \(make-numbers\)\nhint: did you mean 'count'\?\n/);
  assert.match(bad.stderr, /1 problem in test\/fixtures\/config\/numbers-paths\.yaml\n$/);
});

test('pipe validate: a YAML syntax error is printed with file:line:column, code frame and hint, exit 2', async () => {
  const r = await pipe('validate', 'test/fixtures/broken/yaml-syntax.yaml');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^test\/fixtures\/broken\/yaml-syntax\.yaml:6:26: error: YAML syntax: Flow sequence/);
  assert.ok(r.stderr.includes('> 6 |     with: { count: [1, 2 }\n    |                          ^\n'), r.stderr);
  assert.ok(r.stderr.includes('hint: check the indentation and that every [ or { is closed'), r.stderr);
});

test('pipe validate: an unknown top-level key gets a did-you-mean', async () => {
  const r = await pipe('validate', 'test/fixtures/broken/unknown-top-level-key.yaml');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^test\/fixtures\/broken\/unknown-top-level-key\.yaml:3:1: error: unknown key 'sede' at the top level\n/);
  assert.ok(r.stderr.includes("hint: did you mean 'seed'?"), r.stderr);
});

test('pipe validate: a user stage file that does not exist', async () => {
  const r = await pipe('validate', 'test/fixtures/broken/user-stage-not-found.yaml');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^test\/fixtures\/broken\/user-stage-not-found\.yaml:5:11: error: stage module '\.\.\/stages\/make-numbres\.ts' not found/);
  assert.ok(r.stderr.includes("hint: did you mean '../stages/make-numbers.ts'?"), r.stderr);
});

test('pipe validate: usage errors', async () => {
  const none = await pipe('validate');
  assert.equal(none.code, 2);
  assert.match(none.stderr, /which pipeline\? give its file/);
  const missing = await pipe('validate', 'test/fixtures/broken/no-such.yaml');
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /pipeline file not found: test\/fixtures\/broken\/no-such\.yaml/);
});

test('pipe schema: writes the editor schema, and --check tells when it is out of date', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-schema-'));
  const out = join(dir, 'pipeline.schema.json');
  const missing = await pipe('schema', '--check', '--out', out);
  assert.equal(missing.code, 1);
  const write = await pipe('schema', '--out', out);
  assert.equal(write.code, 0, write.stderr);
  const schema = JSON.parse(await readFile(out, 'utf8')) as { definitions: { stage: { allOf: unknown[] } } };
  assert.ok(Array.isArray(schema.definitions.stage.allOf));
  const fresh = await pipe('schema', '--check', '--out', out);
  assert.equal(fresh.code, 0, fresh.stderr);
  await writeFile(out, '{}\n');
  const stale = await pipe('schema', '--check', '--out', out);
  assert.equal(stale.code, 1);
  assert.match(stale.stderr, /out of date; run `pipe schema`/);
});
