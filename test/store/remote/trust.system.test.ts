// What a remote cache entry must be before a run uses it, and how long the run waits for it, through the real
// CLI on the toy pipeline:
// - on each transport (a real S3-protocol server, s3rver, as a child process on 127.0.0.1; a shared folder), an
//   unsigned entry that says another stage type, or lacks the stage's outputs, or names `x` and `x/inner`, is
//   forged: ignored with a warning, only that stage is rebuilt, and the remote stays on for the others;
// - a server (an HTTP proxy in front of s3rver) that trickles a file's bytes cannot hold the run: the download
//   has a deadline that grows with its size, and SIGTERM to `pipe run` cancels the transfer in flight.
import assert from 'node:assert/strict';
import { createServer as createHttpServer, request as httpRequest, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import type { RunRecord } from '../../../src/runs/record.js';
import { expectationProblem } from '../../../src/store/artifact-cache.js';
import { startPipe } from '../../../harness/pipe-process.js';
import { literal, run, runAsync, statuses, TRANSPORTS, useRemote, useS3Remote, type TestRemote } from '../../support/remote-client.js';
import { makeToyProject, TOY_PIPELINE } from '../../../harness/toy-project.js';

const cleanup: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const step of cleanup.reverse()) await step();
});

interface Manifest {
  uses: string;
  files: { path: string; size: number; sha256: string }[];
  meta: { keyParts: { uses: string } };
}

/** Build the toy pipeline into the remote under `prefix`; its record, and a way to rewrite a stage's entry. */
async function pushed(remote: TestRemote, prefix: string, pipeline = TOY_PIPELINE) {
  const { record } = run(await makeToyProject(pipeline), remote.env(prefix, { PIPE_REMOTE_CACHE_WRITE: '1' }));
  const entryKey = (stage: string) => `${prefix}/pipe-cache-v1/entries/${record.stages[stage].key}.json`;
  const manifestOf = async (stage: string) => JSON.parse(JSON.parse(await remote.read(entryKey(stage))).manifest) as Manifest;
  /** Replace a stage's entry object with an unsigned one holding `manifest` (anyone who may write the remote can). */
  const forge = async (stage: string, manifest: Manifest) => {
    await remote.write(entryKey(stage), JSON.stringify({ manifest: JSON.stringify(manifest) }));
  };
  return { record, manifestOf, forge };
}

for (const transport of TRANSPORTS) {
  describe(`remote cache entries are checked against the planned stage (${transport})`, { concurrency: false }, () => {
    const remote = useRemote(transport);

    it('an entry that says another stage type is ignored and that stage alone rebuilt, saying why (and not pulled)', async () => {
      const { record, manifestOf, forge } = await pushed(remote, 'uses');
      // The sum entry's manifest claims to be a report entry (its files untouched).
      const sum = await manifestOf('sum');
      const report = await manifestOf('report');
      await forge('sum', { ...sum, uses: report.uses, meta: { ...sum.meta, keyParts: { ...sum.meta.keyParts, uses: report.meta.keyParts.uses } } });
      const reader = run(await makeToyProject(), remote.env('uses'));
      assert.deepEqual(statuses(reader.record), { source: 'remote', scale: 'remote', sum: 'ran', report: 'remote' });
      assert.match(
        reader.stderr,
        new RegExp(`remote cache entry ${record.stages.sum.key.slice(0, 12)} ignored: it is an entry of stage type 'toy-report', and this stage is 'toy-sum'; building it here`),
      );
      assert.doesNotMatch(reader.stderr, /unavailable/);
      // `pipe cache pull` of the pipeline does not take it either.
      const pull = (await makeToyProject()).pipe(['cache', 'pull', 'pipeline.yaml'], remote.env('uses'));
      assert.equal(pull.status, 1, pull.stderr);
      assert.match(pull.stdout, new RegExp(`3 fetched from ${literal(remote.url('uses'))}, 0 already here, 0 not in the remote cache, 1 rejected`));
      assert.match(pull.stderr, /ignored: it is an entry of stage type/);
    });

    it('an entry whose files are not the stage\'s outputs (other names, an output as a folder) is ignored and rebuilt', async () => {
      const { record, manifestOf, forge } = await pushed(remote, 'outputs');
      // sum.json renamed: the content is there, under a name the stage does not write.
      const sum = await manifestOf('sum');
      await forge('sum', { ...sum, files: [{ ...sum.files[0], path: 'total.json' }] });
      // scale's numbers.json moved into a folder of that name.
      const scale = await manifestOf('scale');
      await forge('scale', { ...scale, files: [{ ...scale.files[0], path: 'numbers.json/inner.json' }] });
      const reader = run(await makeToyProject(), remote.env('outputs'));
      assert.deepEqual(statuses(reader.record), { source: 'remote', scale: 'ran', sum: 'ran', report: 'remote' });
      assert.match(reader.stderr, new RegExp(`entry ${record.stages.sum.key.slice(0, 12)} ignored: its files are not this stage's outputs: sum\\.json is missing \\(it holds total\\.json\\)`));
      assert.match(reader.stderr, new RegExp(`entry ${record.stages.scale.key.slice(0, 12)} ignored: its files are not this stage's outputs: numbers\\.json is a folder`));
      assert.doesNotMatch(reader.stderr, /unavailable/);
    });

    it('a manifest naming both x and x/inner is forged: that stage is rebuilt, the remote stays on for the others', async () => {
      const { record, manifestOf, forge } = await pushed(remote, 'both');
      const source = await manifestOf('source');
      const file = source.files[0];
      await forge('source', { ...source, files: [file, { ...file, path: `${file.path}/inner` }] });
      const reader = run(await makeToyProject(), remote.env('both'));
      assert.deepEqual(statuses(reader.record), { source: 'ran', scale: 'remote', sum: 'remote', report: 'remote' });
      assert.match(
        reader.stderr,
        new RegExp(`entry ${record.stages.source.key.slice(0, 12)} ignored: its manifest is invalid: "numbers\\.json" is listed both as a file and as the folder of "numbers\\.json/inner"`),
      );
      assert.doesNotMatch(reader.stderr, /unavailable/);
    });
  });
}

describe('transfers cannot hold a run (S3)', { concurrency: false }, () => {
  const remote = useS3Remote();

  /**
   * A proxy in front of s3rver that passes everything through but the objects whose path matches `slow` (file
   * contents by default), whose bytes it sends one every `everyMs`, and, with `holdUploads`, uploads, which it
   * never answers. `started` resolves when it begins trickling or holding one.
   */
  async function slowProxy(everyMs: number, slow = /\/blobs\//, holdUploads = false): Promise<{ port: number; started: Promise<void> }> {
    let onStart: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (onStart = resolve));
    const trickles = new Set<NodeJS.Timeout>();
    const proxy = createHttpServer((req, res: ServerResponse) => {
      if (holdUploads && req.method === 'PUT') {
        onStart();
        req.resume();
        return;
      }
      const upstream = httpRequest({ host: '127.0.0.1', port: remote.server.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        if (req.method !== 'GET' || !slow.test(req.url ?? '') || answer.statusCode !== 200) {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          return;
        }
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const body = Buffer.concat(chunks);
          res.writeHead(200, { ...answer.headers, 'content-length': String(body.length) });
          onStart();
          let sent = 0;
          const timer = setInterval(() => {
            if (res.destroyed || sent >= body.length) {
              clearInterval(timer);
              trickles.delete(timer);
              if (!res.destroyed) res.end();
              return;
            }
            res.write(body.subarray(sent, ++sent));
          }, everyMs);
          trickles.add(timer);
        });
      });
      upstream.on('error', () => req.socket.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => {
      for (const t of trickles) clearInterval(t);
      proxy.closeAllConnections();
      return new Promise<void>((resolve) => proxy.close(() => resolve()));
    });
    return { port: (proxy.address() as AddressInfo).port, started };
  }

  // 300 numbers: files of about a kilobyte, which at 20 bytes a second would take a minute to come.
  const BIGGER = TOY_PIPELINE.replace('with: { n: 5 }', 'with: { n: 300 }');

  it('a server that trickles a file is given up on once the size-based deadline passes: the run goes on locally, saying why', async () => {
    const { record } = await pushed(remote, 'trickle', BIGGER);
    const proxy = await slowProxy(50);
    // A request deadline of 1 s (each byte comes well within it, so the stall timer never fires) plus the
    // file's size at 10 kB/s.
    const reader = await runAsync(await makeToyProject(BIGGER), remote.envVia(proxy.port, 'trickle', { PIPE_REMOTE_CACHE_TIMEOUT: '1', PIPE_REMOTE_CACHE_MIN_RATE: '10kB' }));
    // The two big files trickle past the deadline (the small ones of sum and report may come in time).
    assert.equal(statuses(reader.record).source, 'ran');
    assert.equal(statuses(reader.record).scale, 'ran');
    assert.equal((reader.stderr.match(/unavailable/g) ?? []).length, 1, reader.stderr);
    assert.match(
      reader.stderr,
      /warning: remote cache s3:\/\/pipe-cache\/trickle unavailable \(download of [\w.]+ \(\d+ bytes\) took longer than [\d.]+ m?s, slower than 10000 bytes\/s \(PIPE_REMOTE_CACHE_MIN_RATE\)\); continuing with the local cache only/,
    );
    // Built here, the same as the writer's.
    assert.equal(reader.record.stages.report.key, record.stages.report.key);
  });

  it('a server that trickles the entry objects themselves is given up on the same way', async () => {
    await pushed(remote, 'trickle-entries', BIGGER);
    const proxy = await slowProxy(50, /\/entries\//);
    const reader = await runAsync(await makeToyProject(BIGGER), remote.envVia(proxy.port, 'trickle-entries', { PIPE_REMOTE_CACHE_TIMEOUT: '1', PIPE_REMOTE_CACHE_MIN_RATE: '10kB' }));
    assert.deepEqual(statuses(reader.record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.match(reader.stderr, /warning: remote cache s3:\/\/pipe-cache\/trickle-entries unavailable \(reading entry [0-9a-f]{12} \(\d+ bytes\) took longer than/);
  });

  it('SIGTERM to a run whose download trickles cancels the transfer: the run ends, interrupted, without blaming the remote', { timeout: 120_000 }, async () => {
    await pushed(remote, 'sigterm', BIGGER);
    const proxy = await slowProxy(200);
    // Deadlines far off: only the signal can end the transfer.
    const reader = await makeToyProject(BIGGER);
    const child = startPipe(reader.dir, ['run', 'pipeline.yaml', '--json'], remote.envVia(proxy.port, 'sigterm', { PIPE_REMOTE_CACHE_TIMEOUT: '600' }));
    await proxy.started;
    const { code } = await child.stop('SIGTERM');
    assert.equal(code, 130, child.output);
    const record = JSON.parse(child.stdout) as RunRecord;
    assert.equal(record.status, 'interrupted');
    assert.equal(record.stages.source.cachedFrom, undefined, 'nothing came from the remote');
    assert.match(child.output, /SIGTERM: stopping at the next safe point/);
    assert.doesNotMatch(child.output, /unavailable/);
  });

  it('SIGTERM while a run waits for uploads that get no answer cancels them: the run ends, and no entry is left half pushed', { timeout: 120_000 }, async () => {
    const proxy = await slowProxy(200, /^$/, true);
    const project = await makeToyProject();
    const child = startPipe(project.dir, ['run', 'pipeline.yaml', '--json'], remote.envVia(proxy.port, 'held', { PIPE_REMOTE_CACHE_TIMEOUT: '600', PIPE_REMOTE_CACHE_WRITE: '1' }));
    await child.waitFor(/waiting for \d+ uploads? to the remote cache/);
    await proxy.started;
    const { code } = await child.stop('SIGTERM');
    assert.equal(code, 130, child.output);
    const record = JSON.parse(child.stdout) as RunRecord;
    assert.deepEqual(statuses(record), { source: 'ran', scale: 'ran', sum: 'ran', report: 'ran' });
    assert.match(child.output, /remote cache s3:\/\/pipe-cache\/held: 0 pushed, 4 not pushed/);
    assert.doesNotMatch(child.output, /unavailable/);
    assert.deepEqual(await remote.keys('held'), []);
  });
});

describe('what an entry must hold to be the planned stage\'s', () => {
  const file = (path: string) => ({ path, size: 1, sha256: '0'.repeat(64) });
  const expect = { type: 'report', uses: 'report', outputs: ['report.html', 'charts/'] };

  it('its file outputs as files; a folder output may hold files or none (a report without charts), never be a file; other files are stored too', () => {
    assert.equal(expectationProblem({ uses: 'report', files: [file('charts/a.svg'), file('report.html')] }, expect), undefined);
    assert.equal(expectationProblem({ uses: 'report', files: [file('report.html')] }, expect), undefined);
    assert.equal(expectationProblem({ uses: 'report', files: [file('files.txt'), file('report.html')] }, expect), undefined);
    assert.match(expectationProblem({ uses: 'report', files: [file('charts'), file('report.html')] }, expect) ?? '', /charts\/ is a file/);
    assert.match(expectationProblem({ uses: 'report', files: [file('report.html/index.html')] }, expect) ?? '', /report\.html is a folder/);
    assert.match(expectationProblem({ uses: 'report', files: [] }, expect) ?? '', /report\.html is missing/);
    assert.match(expectationProblem({ uses: 'train', files: [file('report.html')] }, expect) ?? '', /stage type 'train', and this stage is 'report'/);
  });

  it("its stage type is the one its key parts name, whatever path another pipeline's `uses:` took to the module", () => {
    const mine = { type: 'toy-sum', uses: './stages/sum.mjs', outputs: ['sum.json'] };
    const files = [file('sum.json')];
    assert.equal(expectationProblem({ uses: '../stages/sum.mjs', files, meta: { keyParts: { uses: 'toy-sum' } } }, mine), undefined);
    assert.match(expectationProblem({ uses: './stages/sum.mjs', files, meta: { keyParts: { uses: 'toy-report' } } }, mine) ?? '', /stage type 'toy-report', and this stage is 'toy-sum'/);
    // Without key parts, `uses` itself must match.
    assert.match(expectationProblem({ uses: '../stages/sum.mjs', files }, mine) ?? '', /stage type '\.\.\/stages\/sum\.mjs', and this stage is '\.\/stages\/sum\.mjs'/);
  });
});
