// The remote cache through the real CLI on the toy pipeline, on each transport: a real S3-protocol server
// (s3rver, a child process on 127.0.0.1) and a shared folder (file://). Sharing between checkouts, partial
// pushes, corruption, read-only mode, signatures, escaping manifests, and the cache commands, on both; on S3,
// a server killed mid-push and a server that never answers (a writer killed mid-push of a folder:
// remote-folder.test.ts).
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunRecord } from '../../../src/runs/record.js';
import { literal, run, runAsync, statuses, TRANSPORTS, useRemote, useS3Remote } from '../../support/remote-client.js';
import { makeToyProject, TOY_PIPELINE, type ToyProject } from '../../../harness/toy-project.js';

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

async function outputBytes(project: ToyProject, record: RunRecord): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [id, s] of Object.entries(record.stages)) {
    for (const [name, path] of Object.entries(s.outputs)) out[`${id}.${name}`] = (await readFile(join(project.dir, 'artifacts', path))).toString('base64');
  }
  return out;
}

for (const transport of TRANSPORTS) {
  describe(`remote cache (${transport})`, { concurrency: false }, () => {
    const remote = useRemote(transport);

    it('a second checkout with an empty store gets every stage from the remote, identical; a changed param pushes only what it re-ran', async () => {
      const writer = await makeToyProject();
      const first = run(writer, remote.env('shared', { PIPE_REMOTE_CACHE_WRITE: '1' }));
      assert.deepEqual(statuses(first.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
      assert.match(first.stderr, new RegExp(`remote cache ${literal(remote.url('shared'))}: 4 pushed`));
      assert.deepEqual(await remote.entryKeys('shared'), Object.values(first.record.stages).map((s) => s.key).sort());

      const reader = await makeToyProject();
      const second = run(reader, remote.env('shared'));
      assert.deepEqual(statuses(second.record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });
      assert.deepEqual(await outputBytes(reader, second.record), await outputBytes(writer, first.record));
      // Now local: a third run needs nothing from the remote.
      assert.deepEqual(statuses(run(reader, remote.env('shared')).record), { source: 'cached', scale: 'cached', sum: 'cached', report: 'cached' });

      const changed = run(reader, remote.env('shared', { PIPE_REMOTE_CACHE_WRITE: '1' }), ['--set', 'scale.factor=3']);
      assert.deepEqual(statuses(changed.record), { source: 'cached', scale: 'ran', sum: 'ran', report: 'ran' });
      assert.match(changed.stderr, /: 3 pushed/);
      const expected = new Set([...Object.values(first.record.stages), ...Object.values(changed.record.stages)].map((s) => s.key));
      assert.deepEqual(await remote.entryKeys('shared'), [...expected].sort());
    });

    it('without write permission nothing is pushed', async () => {
      const before = await remote.keys('shared');
      const project = await makeToyProject();
      const result = run(project, remote.env('shared'), ['--set', 'scale.factor=5']);
      assert.deepEqual(statuses(result.record), { source: 'remote', scale: 'ran', sum: 'ran', report: 'ran' });
      assert.deepEqual(await remote.keys('shared'), before);
      assert.doesNotMatch(result.stderr, /pushed/);
    });

    it('a corrupted object in the remote is detected, reported, and its stage rebuilt', async () => {
      const writer = await makeToyProject();
      const built = run(writer, remote.env('corrupt', { PIPE_REMOTE_CACHE_WRITE: '1' })).record;
      const manifest = JSON.parse(JSON.parse(await remote.read(`corrupt/pipe-cache-v1/entries/${built.stages.sum.key}.json`)).manifest);
      const blob = `corrupt/pipe-cache-v1/blobs/${manifest.files[0].sha256}`;
      const original = await remote.read(blob);
      await remote.write(blob, original.replace(/\d/, (d) => String((Number(d) + 1) % 10)));
      // And the scale entry's file made longer than its manifest says.
      const scaleManifest = JSON.parse(JSON.parse(await remote.read(`corrupt/pipe-cache-v1/entries/${built.stages.scale.key}.json`)).manifest);
      await remote.write(`corrupt/pipe-cache-v1/blobs/${scaleManifest.files[0].sha256}`, 'x'.repeat(100_000));

      const reader = await makeToyProject();
      const result = run(reader, remote.env('corrupt', { PIPE_REMOTE_CACHE_WRITE: '1' }));
      assert.deepEqual(statuses(result.record), { source: 'remote', scale: 'ran', sum: 'ran', report: 'remote' });
      assert.match(result.stderr, new RegExp(`remote cache entry ${built.stages.sum.key.slice(0, 12)} ignored: corrupt: sum\\.json: content hash`));
      assert.match(result.stderr, new RegExp(`remote cache entry ${built.stages.scale.key.slice(0, 12)} ignored: corrupt: numbers\\.json: more than the \\d+ bytes`));
      assert.equal(await readFile(join(reader.dir, 'artifacts', result.record.stages.sum.outputs.sum), 'utf8'), original);
      // The rebuild, pushed by a writer, repaired the remote entry.
      assert.equal(await remote.read(blob), original);
      assert.deepEqual(statuses(run(await makeToyProject(), remote.env('corrupt')).record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });
    });

    it('signed mode: unsigned entries and a forged manifest are rejected with a warning and rebuilt', async () => {
      const env = remote.env('signed', { PIPE_CACHE_SIGNING_KEY: 'team secret' });
      // Entries pushed without the key are not trusted by a reader that has it.
      const unsigned = run(await makeToyProject(), remote.env('shared', { PIPE_CACHE_SIGNING_KEY: 'team secret' }));
      assert.deepEqual(statuses(unsigned.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
      assert.match(unsigned.stderr, /ignored: it is not signed/);

      const built = run(await makeToyProject(), { ...env, PIPE_REMOTE_CACHE_WRITE: '1' }).record;
      assert.deepEqual(statuses(run(await makeToyProject(), env).record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });

      // A forger without the key rewrites the sum entry to name other content, signing with a guess.
      const objectKey = `signed/pipe-cache-v1/entries/${built.stages.sum.key}.json`;
      const entry = JSON.parse(await remote.read(objectKey)) as { manifest: string; hmac: string };
      const manifest = JSON.parse(entry.manifest);
      const evil = '{"sum": 999}';
      const evilSha = createHash('sha256').update(evil).digest('hex');
      manifest.files = [{ path: 'sum.json', size: evil.length, sha256: evilSha }];
      const forged = JSON.stringify(manifest);
      await remote.write(`signed/pipe-cache-v1/blobs/${evilSha}`, evil);
      await remote.write(objectKey, JSON.stringify({ manifest: forged, hmac: createHmac('sha256', 'guess').update(forged).digest('hex') }));
      const reader = await makeToyProject();
      const result = run(reader, env);
      assert.deepEqual(statuses(result.record), { source: 'remote', scale: 'remote', sum: 'ran', report: 'remote' });
      assert.match(result.stderr, /ignored: its signature does not match/);
      assert.equal(JSON.parse(await readFile(join(reader.dir, 'artifacts', result.record.stages.sum.outputs.sum), 'utf8')).sum, 30);
    });

    it('a manifest naming a file outside its entry is rejected', async () => {
      const built = run(await makeToyProject(), remote.env('escape', { PIPE_REMOTE_CACHE_WRITE: '1' })).record;
      const objectKey = `escape/pipe-cache-v1/entries/${built.stages.source.key}.json`;
      const entry = JSON.parse(await remote.read(objectKey)) as { manifest: string };
      const manifest = JSON.parse(entry.manifest);
      manifest.files[0].path = '../../../escaped.json';
      await remote.write(objectKey, JSON.stringify({ manifest: JSON.stringify(manifest) }));
      const reader = await makeToyProject();
      const result = run(reader, remote.env('escape'));
      assert.equal(statuses(result.record).source, 'ran');
      assert.match(result.stderr, /is not a plain relative path inside the entry/);
    });

    it("the pipeline's own cache: { remote } works as PIPE_REMOTE_CACHE does", async () => {
      const { PIPE_REMOTE_CACHE: url, ...env } = remote.env('in-file');
      const pipeline = `${TOY_PIPELINE}cache:\n  remote: ${JSON.stringify(url)}\n`;
      const first = run(await makeToyProject(pipeline), { ...env, PIPE_REMOTE_CACHE_WRITE: '1' });
      assert.match(first.stderr, new RegExp(`remote cache ${literal(url)}: 4 pushed`));
      assert.deepEqual(statuses(run(await makeToyProject(pipeline), env).record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });
    });

    it('pipe cache ls --remote, push, pull and gc --remote (which keeps what the named pipeline uses)', async () => {
      const project = await makeToyProject();
      run(project, {});
      const env = remote.env('manual');
      const push = project.pipe(['cache', 'push', 'pipeline.yaml'], env);
      assert.equal(push.status, 0, push.stderr);
      assert.match(push.stdout, new RegExp(`4 pushed, 0 already there, 0 failed to ${literal(remote.url('manual'))}`));
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
      assert.equal((await remote.entryKeys('manual')).length, 10);
      const gc = other.pipe(['cache', 'gc', '--remote', '--max-age', '0d', '--grace', '0s', 'pipeline.yaml'], { ...env, PIPE_ARTIFACTS: join(other.dir, 'elsewhere') });
      assert.equal(gc.status, 0, gc.stderr);
      assert.match(gc.stdout, /removed 3 entries, 1 older run record/);
      const left = await remote.entryKeys('manual');
      assert.equal(left.length, 7);
      for (const stage of Object.values(latest.stages)) assert.ok(left.includes(stage.key), `${stage.key.slice(0, 12)} of the latest run kept`);
    });
  });
}

describe('remote cache on an S3 server that fails', { concurrency: false }, () => {
  const remote = useS3Remote();

  it('the server killed in the middle of a push leaves no entry without its files, and the next run completes', async () => {
    // A proxy in front of the server kills it when the second file upload starts.
    let uploads = 0;
    const proxy = createHttpServer((req, res) => {
      if (req.method === 'PUT' && req.url?.includes('/blobs/') && ++uploads === 2) {
        process.kill(remote.server.child.pid!, 'SIGKILL');
        req.socket.destroy();
        return;
      }
      const upstream = httpRequest({ host: '127.0.0.1', port: remote.server.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
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
    const killed = await runAsync(project, remote.envVia(proxyPort, 'killed', { PIPE_REMOTE_CACHE_WRITE: '1' }));
    assert.deepEqual(statuses(killed.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.match(killed.stderr, /remote cache s3:\/\/pipe-cache\/killed unavailable/);
    assert.equal((killed.stderr.match(/unavailable/g) ?? []).length, 1, 'one warning');
    assert.ok(uploads >= 2, 'the kill happened during the push');

    // Started again on the same data: every entry there has all of its files.
    await remote.restart();
    const keys = await remote.keys('killed');
    for (const objectKey of keys.filter((k) => k.includes('/entries/'))) {
      const manifest = JSON.parse(JSON.parse(await remote.read(objectKey)).manifest) as { files: { sha256: string }[] };
      for (const f of manifest.files) assert.ok(keys.includes(`killed/pipe-cache-v1/blobs/${f.sha256}`), `${objectKey} names a missing file`);
    }
    // The next run pushes what is missing and completes; a fresh checkout then hits everything.
    const next = run(project, remote.env('killed', { PIPE_REMOTE_CACHE_WRITE: '1' }), ['--force']);
    assert.match(next.stderr, /remote cache s3:\/\/pipe-cache\/killed: \d+ pushed/);
    assert.deepEqual(statuses(run(await makeToyProject(), remote.env('killed')).record), { source: 'remote', scale: 'remote', sum: 'remote', report: 'remote' });
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
    const result = await runAsync(project, remote.envVia(port, 'silent', { PIPE_REMOTE_CACHE_TIMEOUT: '1', PIPE_REMOTE_CACHE_WRITE: '1' }));
    assert.deepEqual(statuses(result.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.equal((result.stderr.match(/warning: remote cache .* unavailable \(no answer within 1 s/g) ?? []).length, 1, result.stderr);
    // The run asks for its 4 stages at once (each request waits at most the timeout, side by side); after the
    // first fault nothing more goes to the remote, not even the pushes of the 4 stages it built.
    assert.ok(connections.length >= 1 && connections.length <= 4, `${connections.length} connections`);
  });
});
