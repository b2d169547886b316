// The remote cache against a real S3-protocol server (s3rver, a child process on 127.0.0.1), through the real
// CLI on the toy pipeline: sharing between checkouts, partial pushes, corruption, a server killed mid-push,
// read-only mode, signatures, and a server that never answers.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { RunRecord } from '../src/runs/record.js';
import { BUCKET, remoteEnv, startS3Server, type S3Server } from './support/s3-server-process.js';
import { entryKeys, getText, listKeys, run, runAsync, s3, statuses } from './support/remote-client.js';
import { makeToyProject, type ToyProject } from './support/toy-project.js';

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

/** Start s3rver on a free port over `dir` (a new temp folder by default); stopped after the tests. */
async function startServer(dir?: string): Promise<S3Server> {
  const server = await startS3Server(dir);
  cleanup.push(() => server.stop());
  return server;
}

async function outputBytes(project: ToyProject, record: RunRecord): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [id, s] of Object.entries(record.stages)) {
    for (const [name, path] of Object.entries(s.outputs)) out[`${id}.${name}`] = (await readFile(join(project.dir, 'artifacts', path))).toString('base64');
  }
  return out;
}

describe('remote cache on an S3-compatible server', { concurrency: false }, () => {
  let server: S3Server;
  before(async () => {
    server = await startServer();
  });

  it('a second checkout with an empty store gets every stage from the remote, identical; a changed param pushes only what it re-ran', async () => {
    const writer = await makeToyProject();
    const first = run(writer, remoteEnv(server.port, 'shared', { PIPE_REMOTE_CACHE_WRITE: '1' }));
    assert.deepEqual(statuses(first.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.match(first.stderr, /remote cache s3:\/\/pipe-cache\/shared: 4 pushed/);
    assert.deepEqual(await entryKeys(server.port, 'shared'), Object.values(first.record.stages).map((s) => s.key).sort());

    const reader = await makeToyProject();
    const second = run(reader, remoteEnv(server.port, 'shared'));
    assert.deepEqual(statuses(second.record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });
    assert.deepEqual(await outputBytes(reader, second.record), await outputBytes(writer, first.record));
    // Now local: a third run needs nothing from the remote.
    assert.deepEqual(statuses(run(reader, remoteEnv(server.port, 'shared')).record), { source: 'cached', scale: 'cached', sum: 'cached', report: 'cached' });

    const changed = run(reader, remoteEnv(server.port, 'shared', { PIPE_REMOTE_CACHE_WRITE: '1' }), ['--set', 'scale.factor=3']);
    assert.deepEqual(statuses(changed.record), { source: 'cached', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.match(changed.stderr, /: 3 pushed/);
    const expected = new Set([...Object.values(first.record.stages), ...Object.values(changed.record.stages)].map((s) => s.key));
    assert.deepEqual(await entryKeys(server.port, 'shared'), [...expected].sort());
  });

  it('without write permission nothing is pushed', async () => {
    const before = await listKeys(server.port, 'shared');
    const project = await makeToyProject();
    const result = run(project, remoteEnv(server.port, 'shared'), ['--set', 'scale.factor=5']);
    assert.deepEqual(statuses(result.record), { source: 'remote', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.deepEqual(await listKeys(server.port, 'shared'), before);
    assert.doesNotMatch(result.stderr, /pushed/);
  });

  it('a corrupted object in the bucket is detected, reported, and its stage rebuilt', async () => {
    const writer = await makeToyProject();
    const built = run(writer, remoteEnv(server.port, 'corrupt', { PIPE_REMOTE_CACHE_WRITE: '1' })).record;
    const manifest = JSON.parse(JSON.parse(await getText(server.port, `corrupt/pipe-cache-v1/entries/${built.stages.sum.key}.json`)).manifest);
    const blob = `corrupt/pipe-cache-v1/blobs/${manifest.files[0].sha256}`;
    const original = await getText(server.port, blob);
    await s3(server.port).send(new PutObjectCommand({ Bucket: BUCKET, Key: blob, Body: original.replace(/\d/, (d) => String((Number(d) + 1) % 10)) }));
    // And the scale entry's file made longer than its manifest says.
    const scaleManifest = JSON.parse(JSON.parse(await getText(server.port, `corrupt/pipe-cache-v1/entries/${built.stages.scale.key}.json`)).manifest);
    await s3(server.port).send(new PutObjectCommand({ Bucket: BUCKET, Key: `corrupt/pipe-cache-v1/blobs/${scaleManifest.files[0].sha256}`, Body: 'x'.repeat(100_000) }));

    const reader = await makeToyProject();
    const result = run(reader, remoteEnv(server.port, 'corrupt', { PIPE_REMOTE_CACHE_WRITE: '1' }));
    assert.deepEqual(statuses(result.record), { source: 'remote', scale: 'ran', sum: 'ran', report: 'remote' });
    assert.match(result.stderr, new RegExp(`remote cache entry ${built.stages.sum.key.slice(0, 12)} ignored: corrupt: sum\\.json: content hash`));
    assert.match(result.stderr, new RegExp(`remote cache entry ${built.stages.scale.key.slice(0, 12)} ignored: corrupt: numbers\\.json: more than the \\d+ bytes`));
    assert.equal(await readFile(join(reader.dir, 'artifacts', result.record.stages.sum.outputs.sum), 'utf8'), original);
    // The rebuild, pushed by a writer, repaired the remote entry.
    assert.equal(await getText(server.port, blob), original);
    assert.deepEqual(statuses(run(await makeToyProject(), remoteEnv(server.port, 'corrupt')).record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });
  });

  it('signed mode: unsigned entries and a forged manifest are rejected with a warning and rebuilt', async () => {
    const env = remoteEnv(server.port, 'signed', { PIPE_CACHE_SIGNING_KEY: 'team secret' });
    // Entries pushed without the key are not trusted by a reader that has it.
    const unsigned = run(await makeToyProject(), remoteEnv(server.port, 'shared', { PIPE_CACHE_SIGNING_KEY: 'team secret' }));
    assert.deepEqual(statuses(unsigned.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.match(unsigned.stderr, /ignored: it is not signed/);

    const built = run(await makeToyProject(), { ...env, PIPE_REMOTE_CACHE_WRITE: '1' }).record;
    assert.deepEqual(statuses(run(await makeToyProject(), env).record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });

    // A forger without the key rewrites the sum entry to name other content, signing with a guess.
    const objectKey = `signed/pipe-cache-v1/entries/${built.stages.sum.key}.json`;
    const entry = JSON.parse(await getText(server.port, objectKey)) as { manifest: string; hmac: string };
    const manifest = JSON.parse(entry.manifest);
    const evil = '{"sum": 999}';
    const evilSha = (await import('node:crypto')).createHash('sha256').update(evil).digest('hex');
    manifest.files = [{ path: 'sum.json', size: evil.length, sha256: evilSha }];
    const forged = JSON.stringify(manifest);
    await s3(server.port).send(new PutObjectCommand({ Bucket: BUCKET, Key: `signed/pipe-cache-v1/blobs/${evilSha}`, Body: evil }));
    await s3(server.port).send(
      new PutObjectCommand({ Bucket: BUCKET, Key: objectKey, Body: JSON.stringify({ manifest: forged, hmac: createHmac('sha256', 'guess').update(forged).digest('hex') }) }),
    );
    const reader = await makeToyProject();
    const result = run(reader, env);
    assert.deepEqual(statuses(result.record), { source: 'remote', scale: 'remote', sum: 'ran', report: 'remote' });
    assert.match(result.stderr, /ignored: its signature does not match/);
    assert.equal(JSON.parse(await readFile(join(reader.dir, 'artifacts', result.record.stages.sum.outputs.sum), 'utf8')).sum, 30);
  });

  it('a manifest naming a file outside its entry is rejected', async () => {
    const built = run(await makeToyProject(), remoteEnv(server.port, 'escape', { PIPE_REMOTE_CACHE_WRITE: '1' })).record;
    const objectKey = `escape/pipe-cache-v1/entries/${built.stages.source.key}.json`;
    const entry = JSON.parse(await getText(server.port, objectKey)) as { manifest: string };
    const manifest = JSON.parse(entry.manifest);
    manifest.files[0].path = '../../../escaped.json';
    await s3(server.port).send(new PutObjectCommand({ Bucket: BUCKET, Key: objectKey, Body: JSON.stringify({ manifest: JSON.stringify(manifest) }) }));
    const reader = await makeToyProject();
    const result = run(reader, remoteEnv(server.port, 'escape'));
    assert.equal(statuses(result.record).source, 'ran');
    assert.match(result.stderr, /is not a plain relative path inside the entry/);
  });

  it('pipe cache ls --remote, push, pull and gc --remote (which keeps what the named pipeline uses)', async () => {
    const project = await makeToyProject();
    run(project, {});
    const env = remoteEnv(server.port, 'manual');
    const push = project.pipe(['cache', 'push', 'pipeline.yaml'], env);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stdout, /4 pushed, 0 already there, 0 failed/);
    const ls = project.pipe(['cache', 'ls', '--remote', '--json'], env);
    assert.equal(ls.status, 0, ls.stderr);
    assert.deepEqual((JSON.parse(ls.stdout) as { stage: string }[]).map((e) => e.stage).sort(), ['report', 'scale', 'source', 'sum']);

    const other = await makeToyProject();
    const pull = other.pipe(['cache', 'pull', 'pipeline.yaml'], env);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, /4 fetched/);
    assert.deepEqual(statuses(run(other, {}).record), { source: 'cached', scale: 'cached', sum: 'cached', report: 'cached' });

    // Entries of two other params, pushed by runs, then gc: everything is older than 0 days (and no grace), but
    // the pipeline's 4 are kept, and so are those of the latest run (with --set) the remote has a record of.
    run(other, { ...env, PIPE_REMOTE_CACHE_WRITE: '1' }, ['--set', 'scale.factor=7']);
    const latest = run(other, { ...env, PIPE_REMOTE_CACHE_WRITE: '1' }, ['--set', 'scale.factor=8']).record;
    assert.equal((await entryKeys(server.port, 'manual')).length, 10);
    const gc = other.pipe(['cache', 'gc', '--remote', '--max-age', '0d', '--grace', '0s', 'pipeline.yaml'], { ...env, PIPE_ARTIFACTS: join(other.dir, 'elsewhere') });
    assert.equal(gc.status, 0, gc.stderr);
    assert.match(gc.stdout, /removed 3 entries, 1 older run record/);
    const left = await entryKeys(server.port, 'manual');
    assert.equal(left.length, 7);
    for (const stage of Object.values(latest.stages)) assert.ok(left.includes(stage.key), `${stage.key.slice(0, 12)} of the latest run kept`);
  });

  it('the server killed in the middle of a push leaves no entry without its files, and the next run completes', async () => {
    // A proxy in front of the server kills it when the second file upload starts.
    let uploads = 0;
    const proxy = createHttpServer((req, res) => {
      if (req.method === 'PUT' && req.url?.includes('/blobs/') && ++uploads === 2) {
        process.kill(server.child.pid!, 'SIGKILL');
        req.socket.destroy();
        return;
      }
      const upstream = httpRequest({ host: '127.0.0.1', port: server.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.on('error', () => req.socket.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => new Promise<void>((resolve) => proxy.close(() => resolve())));
    const proxyPort = (proxy.address() as AddressInfo).port;

    const project = await makeToyProject();
    const killed = await runAsync(project, remoteEnv(proxyPort, 'killed', { PIPE_REMOTE_CACHE_WRITE: '1' }));
    assert.deepEqual(statuses(killed.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.match(killed.stderr, /remote cache s3:\/\/pipe-cache\/killed unavailable/);
    assert.equal((killed.stderr.match(/unavailable/g) ?? []).length, 1, 'one warning');
    assert.ok(uploads >= 2, 'the kill happened during the push');

    // Started again on the same data: every entry there has all of its files.
    await server.stop();
    server = await startServer(server.dir);
    const keys = await listKeys(server.port, 'killed/');
    for (const objectKey of keys.filter((k) => k.includes('/entries/'))) {
      const manifest = JSON.parse(JSON.parse(await getText(server.port, objectKey)).manifest) as { files: { sha256: string }[] };
      for (const f of manifest.files) assert.ok(keys.includes(`killed/pipe-cache-v1/blobs/${f.sha256}`), `${objectKey} names a missing file`);
    }
    // The next run pushes what is missing and completes; a fresh checkout then hits everything.
    const next = run(project, remoteEnv(server.port, 'killed', { PIPE_REMOTE_CACHE_WRITE: '1' }), ['--force']);
    assert.match(next.stderr, /remote cache s3:\/\/pipe-cache\/killed: \d+ pushed/);
    assert.deepEqual(statuses(run(await makeToyProject(), remoteEnv(server.port, 'killed')).record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });
  });

  it('a server that does not answer costs one timeout (its requests wait side by side), then the run goes on locally with one warning', async () => {
    const connections: Socket[] = [];
    const silent = createTcpServer((socket) => connections.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => {
      for (const s of connections) s.destroy();
      return new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const port = (silent.address() as AddressInfo).port;
    const project = await makeToyProject();
    const result = await runAsync(project, remoteEnv(port, 'silent', { PIPE_REMOTE_CACHE_TIMEOUT: '1', PIPE_REMOTE_CACHE_WRITE: '1' }));
    assert.deepEqual(statuses(result.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.equal((result.stderr.match(/warning: remote cache .* unavailable \(no answer within 1 s/g) ?? []).length, 1, result.stderr);
    // The run asks for its 4 stages at once (each request waits at most the timeout, side by side); after the
    // first fault nothing more goes to the remote, not even the pushes of the 4 stages it built.
    assert.ok(connections.length >= 1 && connections.length <= 4, `${connections.length} connections`);
  });

  after(async () => {
    if (server) {
      await server.stop();
      await rm(server.dir, { recursive: true, force: true });
    }
  });
});
