// Fault suite, part 2: the store, inputs and stage modules. A read-only store, stage outputs that would escape
// their entry, a file edited behind the stat cache's back, a device given as an input, a CommonJS .ts stage,
// a failed stage under --debug: each ends with the right exit code, a message that names the place, no stack
// trace (unless --debug asked for one), and a sound store.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertFault, assertStoreSound } from '../support/faults.js';
import { makeToyProject, PIPE_BIN, TOY_PIPELINE, type ToyProject } from '../../harness/toy-project.js';

/**
 * Run the CLI against a store on a really read-only file system. As root, chmod stops nothing, so the store is
 * a tmpfs remounted read-only; where mounting is not allowed, a bind mount made read-only inside a user and
 * mount namespace (unshare) does the same. One of the two works on Linux; neither is skipped.
 */
async function withReadOnlyCopy<T>(source: string, target: string, fn: (pipe: (project: ToyProject, args: string[]) => ReturnType<typeof spawnSync>) => Promise<T>): Promise<T> {
  await mkdir(target, { recursive: true });
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=16m', 'pipe-ro-test', target]).status === 0;
  if (mounted) {
    try {
      await cp(source, target, { recursive: true });
      const remount = spawnSync('mount', ['-o', 'remount,ro', target], { encoding: 'utf8' });
      assert.equal(remount.status, 0, `mount -o remount,ro: ${remount.stderr}`);
      return await fn((project, args) => project.pipe(args, { PIPE_ARTIFACTS: target }));
    } finally {
      spawnSync('umount', [target]);
    }
  }
  await cp(source, target, { recursive: true });
  const script = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"';
  return fn((project, args) =>
    spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', script, 'sh', target, process.execPath, PIPE_BIN, ...args], {
      cwd: project.dir,
      encoding: 'utf8',
      env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: target },
    }),
  );
}

test('a read-only store serves a fully cached run with one warning; a run that must write says where it cannot', async () => {
  const project = await makeToyProject();
  assert.equal(project.pipe(['run', 'pipeline.yaml']).status, 0);
  const readOnly = join(project.dir, 'ro-store');
  await withReadOnlyCopy(join(project.dir, 'artifacts'), readOnly, async (pipe) => {
    const runsBefore = await readdir(join(readOnly, 'runs'));
    const cached = pipe(project, ['run', 'pipeline.yaml']) as { status: number; stdout: string; stderr: string };
    const out = `${cached.stdout}${cached.stderr}`;
    assert.equal(cached.status, 0, out);
    assert.match(out, /0 ran, 4 cached/);
    assert.equal(out.match(/warning:/g)?.length, 1, out);
    assert.match(out, new RegExp(`warning: the artifact store ${readOnly} is not writable \\(EROFS\\): cached stages are used`));
    assert.deepEqual(await readdir(join(readOnly, 'runs')), runsBefore, 'no run record written');

    const stale = pipe(project, ['run', 'pipeline.yaml', '--set', 'scale.factor=3']) as { status: number; stdout: string; stderr: string };
    const failed = `${stale.stdout}${stale.stderr}`;
    assert.equal(stale.status, 1, failed);
    assert.match(failed, new RegExp(`stage 'scale' failed:\\nerror: cannot write to the artifact store ${readOnly}: it is on a read-only file system \\(EROFS on locks/`));
    assert.match(failed, /hint: .*PIPE_ARTIFACTS/);
    assert.doesNotMatch(failed, /^\s+at .+:\d+:\d+\)?$/m);
    const verify = pipe(project, ['cache', 'verify']) as { status: number; stdout: string };
    assert.equal(verify.status, 0);
    assert.match(verify.stdout, /4 entries checked, 0 damaged/);
  });
});

test('a stage whose output name climbs out of its entry is refused when its module loads', async () => {
  for (const file of ['../../../escaped.txt', '/tmp/escaped.txt', 'out/../../x.txt']) {
    const project = await makeToyProject();
    const module = (await readFile(join(project.dir, 'stages', 'sum.mjs'), 'utf8')).replace("file: 'sum.json'", `file: '${file}'`);
    await writeFile(join(project.dir, 'stages', 'sum.mjs'), module);
    for (const command of ['validate', 'run']) {
      assertFault(project, project.pipe([command, 'pipeline.yaml']), {
        status: 2,
        place: new RegExp(`pipeline\\.yaml:12:11: error: stage module '\\./stages/sum\\.mjs': output 'sum' writes to '${file.replace(/[.]/g, '\\.')}', outside the stage's output folder`),
      });
    }
    assert.equal(existsSync(join(project.dir, 'escaped.txt')), false);
  }
});

test('a file changed in place with its mtime set back is hashed again (the stat cache compares ctime)', async () => {
  const project = await makeToyProject(TOY_PIPELINE.replace('with: { n: 5 }', 'with: { n: 5, file: input.txt }'));
  const input = join(project.dir, 'input.txt');
  await writeFile(input, 'abc');
  // Older than the stat cache's racy window, so the first run remembers its hash.
  const old = new Date(Date.now() - 60_000);
  await utimes(input, old, old);
  assert.match(project.pipe(['run', 'pipeline.yaml']).stdout, /4 ran, 0 cached/);
  const before = await stat(input);
  await writeFile(input, 'xyz'); // same size
  await utimes(input, before.atime, before.mtime); // what `touch -r` does
  const after = await stat(input);
  assert.equal(after.mtimeMs, before.mtimeMs);
  assert.equal(after.size, before.size);
  const status = project.pipe(['status', 'pipeline.yaml']);
  assert.match(status.stdout, /stale\s+source.*file changed: source\.file \(input\.txt\)/);
  const run = project.pipe(['run', 'pipeline.yaml']);
  assertFault(project, run, { status: 0, place: /4 ran, 0 cached/ });
});

test('an input that is not a regular file or folder (/dev/zero) is refused instead of read forever', async () => {
  const project = await makeToyProject();
  const run = spawnSync(process.execPath, [PIPE_BIN, 'run', 'pipeline.yaml', '--set', 'source.file=/dev/zero'], {
    cwd: project.dir,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: '' },
  });
  assert.notEqual(run.signal, 'SIGTERM', 'pipe run hung hashing /dev/zero');
  assertFault(project, run, {
    status: 2,
    place: /stage 'source': file: cannot read (\.\.\/)*dev\/zero: it is a character device, not a regular file or folder/,
  });
});

test('a .ts stage in a package without "type": "module" loads; where it cannot, the error says why and how to fix it', async () => {
  const project = await makeToyProject();
  await writeFile(join(project.dir, 'package.json'), JSON.stringify({ name: 'my-stages', version: '1.0.0' }));
  const source = (await readFile(join(project.dir, 'stages', 'sum.mjs'), 'utf8')).replace('async run(ctx)', 'async run(ctx: any)').replace(/\(a, b\)/, '(a: number, b: number)');
  await writeFile(join(project.dir, 'stages', 'sum.ts'), source);
  await writeFile(project.pipeline, TOY_PIPELINE.replace('./stages/sum.mjs', './stages/sum.ts'));
  assertFault(project, project.pipe(['run', 'pipeline.yaml']), { status: 0, place: /4 ran, 0 cached/ });

  // Top-level await cannot be compiled to CommonJS.
  await writeFile(join(project.dir, 'stages', 'sum.ts'), `await Promise.resolve();\n${source}`);
  assertFault(project, project.pipe(['validate', 'pipeline.yaml']), {
    status: 2,
    place: new RegExp(
      `pipeline\\.yaml:12:11: error: could not load stage module '\\./stages/sum\\.ts': Transform failed with 1 error: .*Top-level await[^]*` +
        `hint: the module was compiled as CommonJS because ${join(project.dir, 'package.json')} has no "type": "module"; add "type": "module" to the package.json, or rename the file to \\.mts`,
    ),
  });
});

test('--debug prints the stack trace of a failed stage; without it there is none', async () => {
  const project = await makeToyProject();
  const module = (await readFile(join(project.dir, 'stages', 'sum.mjs'), 'utf8')).replace('const sum =', "if (numbers.length) throw new Error('sum exploded');\n    const sum =");
  await writeFile(join(project.dir, 'stages', 'sum.mjs'), module);
  const plain = project.pipe(['run', 'pipeline.yaml']);
  assertFault(project, plain, { status: 1, place: /stage 'sum' failed: sum exploded\n\(run again with --debug for the stack trace\)/ });
  const debug = project.pipe(['run', 'pipeline.yaml', '--debug']);
  assert.equal(debug.status, 1);
  assert.match(debug.stderr, /stage 'sum' failed: sum exploded\nError: sum exploded\n\s+at Object\.run \(.*stages\/sum\.mjs:\d+:\d+\)/);
  assertStoreSound(project);
});
