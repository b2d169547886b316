// What only a shared-folder remote (file:///…, an NFS or SMB mount) has to get right, on a real folder: keys and
// links that would lead out of it are refused; a write is a temp file renamed into place, so that readers never
// see part of an object, even when the writer is killed mid-way (and gc then removes what it left); a folder
// that is missing or cannot be written is a clear error when writes are on, and a warning when only reading.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FolderBlobStore, parseFolderUrl } from '../../../src/store/remote/folder.js';
import { run, statuses, useFolderRemote } from '../../support/remote-client.js';
import { makeToyProject } from '../../../harness/toy-project.js';

const FOLDER_MODULE = fileURLToPath(new URL('../../../src/store/remote/folder.js', import.meta.url));
const never = () => new AbortController().signal;

const temps: string[] = [];
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `pipe-${label}-`));
  temps.push(dir);
  return dir;
}

describe('file:// remote URLs', () => {
  it('name an absolute folder; a host, a relative path, and . or .. (plain or percent-encoded) are refused', () => {
    assert.deepEqual(parseFolderUrl('file:///mnt/team-cache'), { path: '/mnt/team-cache' });
    assert.deepEqual(parseFolderUrl('file:///mnt/team-cache/'), { path: '/mnt/team-cache' });
    assert.deepEqual(parseFolderUrl('file:///mnt/team%20cache'), { path: '/mnt/team cache' });
    for (const url of ['file://server/share', 'file:relative/dir', 'file:///mnt/../etc', 'file:///mnt/./x', 'file:///mnt/%2e%2e/etc', 'file:///mnt/%2E%2E/etc', 'file:///mnt/a%2fb']) {
      assert.equal(typeof parseFolderUrl(url), 'string', url);
    }
  });

  it('a bad one is an input error that says what is expected', async () => {
    const project = await makeToyProject();
    const result = project.pipe(['run', 'pipeline.yaml'], { PIPE_REMOTE_CACHE: 'file:///mnt/%2e%2e/etc' });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /the folder must be a plain absolute path/);
    assert.match(result.stderr, /s3:\/\/bucket\/prefix, or to file:\/\/\/path of a shared folder/);
  });
});

describe('a shared folder refuses keys and links that lead out of it', () => {
  const remote = useFolderRemote();

  it('.., absolute, backslashed and percent-encoded keys are refused by every call; nothing outside is touched', async () => {
    const root = await tempDir('shared');
    const outside = await tempDir('outside');
    await writeFile(join(outside, 'secret'), 'secret');
    const store = new FolderBlobStore(join(root, 'cache'));
    await mkdir(store.root);
    const bad = ['../outside/secret', `${outside}/secret`, 'pipe-cache-v1/../../x', 'pipe-cache-v1\\..\\x', 'pipe-cache-v1/%2e%2e/x', 'pipe-cache-v1//x', './x'];
    for (const key of bad) {
      await assert.rejects(store.get(key, never()), /refused key/, key);
      await assert.rejects(store.head(key, never()), /refused key/, key);
      await assert.rejects(store.put(key, 'x', never()), /refused key/, key);
      await assert.rejects(store.delete(key, never()), /refused key/, key);
    }
    assert.deepEqual(await readdir(outside), ['secret']);
    assert.deepEqual(await readdir(store.root), []);
  });

  it('a link out of the folder (a file or a folder on the way) is refused; links are no objects in a listing', async () => {
    const root = await tempDir('shared');
    const outside = await tempDir('outside');
    await writeFile(join(outside, 'secret'), 'secret');
    const store = new FolderBlobStore(root);
    await mkdir(join(root, 'pipe-cache-v1', 'blobs'), { recursive: true });
    await symlink(join(outside, 'secret'), join(root, 'pipe-cache-v1', 'blobs', 'leak'));
    await symlink(outside, join(root, 'pipe-cache-v1', 'runs'));
    await assert.rejects(store.get('pipe-cache-v1/blobs/leak', never()), /refused key 'pipe-cache-v1\/blobs\/leak' \(it leads out of the folder through a symbolic link\)/);
    await assert.rejects(store.get('pipe-cache-v1/runs/secret', never()), /leads out of the folder/);
    await assert.rejects(store.put('pipe-cache-v1/runs/new.json', '{}', never()), /leads out of the folder/);
    await assert.rejects(store.delete('pipe-cache-v1/runs/secret', never()), /leads out of the folder/);
    await assert.rejects(store.list('pipe-cache-v1/runs/', never()), /leads out of the folder/);
    assert.deepEqual(await readdir(outside), ['secret']);
    assert.deepEqual((await store.list('pipe-cache-v1/', never())).objects, []);
    // A link that stays inside the folder is followed.
    await writeFile(join(root, 'pipe-cache-v1', 'blobs', 'real'), 'inside');
    await symlink('real', join(root, 'pipe-cache-v1', 'blobs', 'alias'));
    const found = await store.get('pipe-cache-v1/blobs/alias', never());
    assert.equal(Buffer.concat(await found!.body.toArray()).toString(), 'inside');
  });

  it('a run whose remote entry is a link out of the folder does not read it: the remote goes off with a warning that says why', async () => {
    const built = run(await makeToyProject(), remote.env('linked', { PIPE_REMOTE_CACHE_WRITE: '1' })).record;
    const outside = await tempDir('outside');
    const entry = join(remote.root, 'linked', 'pipe-cache-v1', 'entries', `${built.stages.source.key}.json`);
    await rename(entry, join(outside, 'entry.json'));
    await symlink(join(outside, 'entry.json'), entry);
    const result = run(await makeToyProject(), remote.env('linked'));
    assert.equal(statuses(result.record).source, 'ran');
    assert.match(result.stderr, /warning: remote cache file:\/\/\S+\/linked unavailable \(refused key 'pipe-cache-v1\/entries\/[0-9a-f]{64}\.json' \(it leads out of the folder through a symbolic link\)\)/);
  });
});

describe('a shared folder writes whole objects', () => {
  const remote = useFolderRemote();

  it('readers see the old object or all of the new one while it is written again and again, and no temp file is left', async () => {
    const store = new FolderBlobStore(remote.root);
    const key = 'pipe-cache-v1/blobs/big';
    const [a, b] = [Buffer.alloc(4 << 20, 'a'), Buffer.alloc(4 << 20, 'b')];
    const source = (data: Buffer) => ({ open: () => Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]), size: data.length });
    await store.put(key, source(a), never());
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 20; i++) await store.put(key, source(i % 2 ? a : b), never());
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const found = await store.get(key, never());
      const body = Buffer.concat(await found!.body.toArray());
      assert.equal(found!.size, 4 << 20);
      assert.ok(body.equals(a) || body.equals(b), `read ${reads}: a mix of ${body.length} bytes`);
      reads++;
    }
    await writer;
    assert.ok(reads > 0);
    assert.deepEqual(await readdir(join(remote.root, 'pipe-cache-v1', 'blobs')), ['big']);
  });

  it('a writer killed mid-way leaves no object, only its temp file, which gc --remote removes once past the grace window', async () => {
    const root = join(remote.root, 'killed');
    await mkdir(root);
    const sha = createHash('sha256').update('never finished').digest('hex');
    const key = `pipe-cache-v1/blobs/${sha}`;
    // A child that writes the first megabyte of an object, then stalls (as an upload may) until it is killed.
    const script = `
      import { Readable } from 'node:stream';
      import { FolderBlobStore } from ${JSON.stringify(pathToFileURL(FOLDER_MODULE).href)};
      async function* slow() { yield Buffer.alloc(1 << 20, 'x'); process.stdout.write('written\\n'); await new Promise(() => setInterval(() => {}, 1000)); }
      await new FolderBlobStore(${JSON.stringify(root)}).put(${JSON.stringify(key)}, { open: () => Readable.from(slow()), size: 2 << 20 }, new AbortController().signal);
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('written') && resolve());
      child.on('exit', (code) => reject(new Error(`the writer exited with ${code}`)));
    });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Killed once the megabyte is on disk (the source is read ahead of the writes).
    const blobs = join(root, 'pipe-cache-v1', 'blobs');
    const written = async () => (await Promise.all((await readdir(blobs)).map(async (name) => (await stat(join(blobs, name))).size))).some((size) => size >= 1 << 20);
    while (!(await written())) await new Promise((resolve) => setTimeout(resolve, 20));
    process.kill(child.pid!, 'SIGKILL');
    await exited;

    const store = new FolderBlobStore(root);
    assert.equal(await store.head(key, never()), false);
    assert.equal(await store.get(key, never()), undefined);
    const left = await readdir(blobs);
    assert.equal(left.length, 1);
    assert.match(left[0], new RegExp(`^\\.tmp-${sha}\\.\\d+\\.[0-9a-f]{8}\\.`));

    const project = await makeToyProject();
    const env = { PIPE_REMOTE_CACHE: pathToFileURL(root).href };
    const young = project.pipe(['cache', 'gc', '--remote', '--max-age', '0d'], env);
    assert.equal(young.status, 0, young.stderr);
    assert.match(young.stdout, /and 0 unreferenced files/);
    const gc = project.pipe(['cache', 'gc', '--remote', '--max-age', '0d', '--grace', '0s'], env);
    assert.equal(gc.status, 0, gc.stderr);
    assert.match(gc.stdout, /and 1 unreferenced file \(1(\.0)? ?MB\)/);
    assert.deepEqual(await readdir(blobs), []);
  });
});

describe('a shared folder that is not there, or not writable', () => {
  it('with writes on, a missing folder is an error that names it and says how to fix it, for pipe run and pipe cache push', async () => {
    const missing = join(await tempDir('shared'), 'not-mounted');
    const project = await makeToyProject();
    const url = pathToFileURL(missing).href;
    const runIt = project.pipe(['run', 'pipeline.yaml'], { PIPE_REMOTE_CACHE: url, PIPE_REMOTE_CACHE_WRITE: '1' });
    assert.equal(runIt.status, 2, runIt.stderr);
    assert.match(runIt.stderr, new RegExp(`the remote cache ${url}: the folder ${missing} does not exist`));
    assert.match(runIt.stderr, /mount the shared folder there, or create it \(mkdir -p .*not-mounted\); or leave remote writes off \(unset PIPE_REMOTE_CACHE_WRITE/);
    const push = project.pipe(['cache', 'push'], { PIPE_REMOTE_CACHE: url });
    assert.equal(push.status, 2, push.stderr);
    assert.match(push.stderr, /does not exist/);
    await assert.rejects(stat(missing), { code: 'ENOENT' });
  });

  it('a file where the folder should be is refused the same way', async () => {
    const file = join(await tempDir('shared'), 'a-file');
    await writeFile(file, '');
    const result = (await makeToyProject()).pipe(['cache', 'gc', '--remote', '--max-age', '30d'], { PIPE_REMOTE_CACHE: pathToFileURL(file).href });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /a-file is not a folder/);
  });

  it('with writes on, a folder this user may not write to is an error that says so', { skip: process.getuid?.() === 0 ? 'root may write anywhere' : false }, async () => {
    const folder = await tempDir('shared');
    await chmod(folder, 0o555);
    try {
      const result = (await makeToyProject()).pipe(['cache', 'push'], { PIPE_REMOTE_CACHE: pathToFileURL(folder).href });
      assert.equal(result.status, 2, result.stderr);
      assert.match(result.stderr, /cannot write to the folder .*: this user may not write there \(EACCES\)/);
    } finally {
      await chmod(folder, 0o755);
    }
  });

  it('reading only, a missing folder is a remote that is unavailable: the run goes on locally with one warning', async () => {
    const missing = join(await tempDir('shared'), 'not-mounted');
    const result = run(await makeToyProject(), { PIPE_REMOTE_CACHE: pathToFileURL(missing).href });
    assert.deepEqual(statuses(result.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.equal((result.stderr.match(/unavailable/g) ?? []).length, 1, result.stderr);
    assert.match(result.stderr, /unavailable \(the folder \S+not-mounted does not exist \(is the share mounted\?\)\); continuing with the local cache only/);
  });
});
