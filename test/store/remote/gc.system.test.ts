// `pipe cache gc --remote` through the real CLI on the toy pipeline, on each transport (a real S3-protocol server,
// s3rver, as a child process on 127.0.0.1; a shared folder): run from a checkout without the pipeline's inputs (a
// scheduled prune job), it keeps what the pipeline's latest run pushed, as the remote's run records say; it never
// deletes a file younger than its grace window (a push in progress uploads files first and the entry naming them
// last); a push writes again a file already there, so that the grace window covers it too; and with a signing
// key, a run record not signed with it is ignored; `pipe cache push` records the latest runs too.
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunRecord } from '../../../src/runs/record.js';
import { literal, run as runToy, TRANSPORTS, useRemote } from '../../support/remote-client.js';
import { makeToyProject, TOY_PIPELINE, type ToyProject } from '../../../harness/toy-project.js';

/** The toy pipeline with an input file (data.txt) that a fresh checkout does not have. */
const WITH_INPUT = TOY_PIPELINE.replace('with: { n: 5 }', 'with: { n: 5, file: data.txt }');

const run = (project: ToyProject, env: Record<string, string>): RunRecord => runToy(project, env).record;

function keysOf(record: RunRecord): string[] {
  return Object.values(record.stages).map((s) => s.key).sort();
}

for (const transport of TRANSPORTS) {
  describe(`pipe cache gc --remote (${transport})`, { concurrency: false }, () => {
    const remote = useRemote(transport);
    const getObject = async (key: string) => JSON.parse(await remote.read(key)) as { record: string; hmac?: string };

    it("run from a checkout without the pipeline's inputs, keeps the entries of its latest run and removes the older run's", async () => {
      const writer = await makeToyProject(WITH_INPUT);
      const env = remote.env('prune', { PIPE_REMOTE_CACHE_WRITE: '1' });
      await writeFile(join(writer.dir, 'data.txt'), 'a');
      const older = run(writer, env);
      await writeFile(join(writer.dir, 'data.txt'), 'bb');
      const latest = run(writer, env);
      assert.equal(new Set([...keysOf(older), ...keysOf(latest)]).size, 8, 'the input changed every key');
      assert.equal((await remote.entryKeys('prune')).length, 8);
      assert.equal((await remote.keys('prune/pipe-cache-v1/runs')).length, 2, 'each run recorded what it used');

      // The prune job: a fresh checkout (no data.txt), an empty local store, writes allowed by `gc --remote` itself.
      const clone = await makeToyProject(WITH_INPUT);
      const gc = clone.pipe(['cache', 'gc', '--remote', '--max-age', '0d', '--grace', '0s', 'pipeline.yaml'], remote.env('prune'));
      assert.equal(gc.status, 0, gc.stderr);
      assert.match(gc.stderr, /warning: pipeline\.yaml: .*data\.txt.*; keeping the 4 entries the latest runs of pipeline 'toy' used/);
      assert.match(gc.stdout, /removed 4 entries, 1 older run record and \d+ unreferenced files/);
      assert.deepEqual(await remote.entryKeys('prune'), keysOf(latest));
      assert.deepEqual(await remote.keys('prune/pipe-cache-v1/runs'), [`prune/pipe-cache-v1/runs/${latest.id}.json`]);
      // What is left is whole: a fresh checkout with the input gets every stage from the remote.
      const reader = await makeToyProject(WITH_INPUT);
      await writeFile(join(reader.dir, 'data.txt'), 'bb');
      assert.ok(Object.values(run(reader, remote.env('prune')).stages).every((s) => s.cachedFrom === 'remote'));
    });

    it("--baseline remote: gates compare with the latest run the remote recorded of the pipeline as it is (main's)", async () => {
      const main = await makeToyProject();
      run(main, remote.env('baseline', { PIPE_REMOTE_CACHE_WRITE: '1' }));
      const latestMain = run(main, remote.env('baseline', { PIPE_REMOTE_CACHE_WRITE: '1' }));
      // A run with --set pushes too, and is no baseline: it does not run the file as it is.
      runToy(main, remote.env('baseline', { PIPE_REMOTE_CACHE_WRITE: '1' }), ['--set', 'scale.factor=3']);

      // A pull request's checkout: no local runs, the remote read-only.
      const branch = await makeToyProject();
      const env = remote.env('baseline');
      const held = branch.pipe(['run', 'pipeline.yaml', '--fail-if', 'sum.sum < baseline', '--baseline', 'remote'], env);
      assert.equal(held.status, 0, held.stderr);
      assert.match(held.stdout, new RegExp(`gate passed: sum\\.sum < baseline \\(sum\\.sum = 30, the baseline's 30 \\(run ${latestMain.id}\\)\\)`));
      const behind = branch.pipe(['run', 'pipeline.yaml', '--fail-if', 'sum.sum < baseline + 1'], env).status;
      assert.equal(behind, 2, 'a relative gate needs --baseline');
      const failing = branch.pipe(['run', 'pipeline.yaml', '--fail-if', 'sum.sum < baseline + 1', '--baseline', 'remote'], env);
      assert.equal(failing.status, 3, failing.stderr);
      assert.match(failing.stderr, /gate failed: sum\.sum < baseline \+ 1 \(--fail-if\): the value is 30, the baseline's 30/);

      const none = branch.pipe(['run', 'pipeline.yaml', '--fail-if', 'sum.sum < baseline', '--baseline', 'remote'], remote.env('no-runs-here'));
      assert.equal(none.status, 2, none.stderr);
      assert.match(none.stderr, new RegExp(`--baseline remote: the remote cache ${literal(remote.url('no-runs-here'))} holds no finished run of pipeline 'toy' as it is`));
      const local = branch.pipe(['run', 'pipeline.yaml', '--fail-if', 'sum.sum < baseline', '--baseline', 'remote']);
      assert.equal(local.status, 2, local.stderr);
      assert.match(local.stderr, /--baseline remote: no remote cache is configured/);
    });

    it('keeps a file uploaded just now that no entry names yet (a push in progress), and removes an old one', async () => {
      const blob = (text: string) => `grace/pipe-cache-v1/blobs/${createHash('sha256').update(text).digest('hex')}`;
      const [young, old] = [blob('uploaded just now'), blob('left over')];
      for (const key of [young, old]) await remote.write(key, key);
      await remote.backdate(old, new Date(Date.now() - 2 * 60 * 60 * 1000));

      const project = await makeToyProject();
      const gc = project.pipe(['cache', 'gc', '--remote', '--max-age', '0d'], remote.env('grace'));
      assert.equal(gc.status, 0, gc.stderr);
      assert.match(gc.stdout, /removed 0 entries, 0 older run records and 1 unreferenced file /);
      assert.deepEqual(await remote.keys('grace'), [young]);

      // With no grace, the young file goes too.
      const now = project.pipe(['cache', 'gc', '--remote', '--max-age', '0d', '--grace', '0s'], remote.env('grace'));
      assert.equal(now.status, 0, now.stderr);
      assert.deepEqual(await remote.keys('grace'), []);
    });

    it('a push writes again a file the remote still holds from a removed entry, so that gc sees it as young', async () => {
      const writer = await makeToyProject();
      const env = remote.env('reuse', { PIPE_REMOTE_CACHE_WRITE: '1' });
      const record = run(writer, env);
      // gc removed the sum entry long ago and left its file (unreferenced, not yet collected).
      const entryKey = `reuse/pipe-cache-v1/entries/${record.stages.sum.key}.json`;
      const entry = JSON.parse(await remote.read(entryKey));
      const blob = `reuse/pipe-cache-v1/blobs/${(JSON.parse(entry.manifest) as { files: { sha256: string }[] }).files[0].sha256}`;
      await remote.remove(entryKey);
      const longAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
      await remote.backdate(blob, longAgo);

      const push = writer.pipe(['cache', 'push', 'pipeline.yaml'], remote.env('reuse'));
      assert.equal(push.status, 0, push.stderr);
      assert.match(push.stdout, /1 pushed, 3 already there/);
      const modified = await remote.modifiedAt(blob);
      assert.ok(modified.getTime() > longAgo.getTime() + 60 * 60 * 1000, `the file was written again (${modified.toISOString()})`);
    });

    it('with a signing key, a run record not signed with it is ignored (a forger cannot choose what gc keeps)', async () => {
      const env = remote.env('signed-runs', { PIPE_CACHE_SIGNING_KEY: 'team secret' });
      const writer = await makeToyProject(WITH_INPUT);
      await writeFile(join(writer.dir, 'data.txt'), 'a');
      const older = run(writer, { ...env, PIPE_REMOTE_CACHE_WRITE: '1' });
      await writeFile(join(writer.dir, 'data.txt'), 'bb');
      const latest = run(writer, { ...env, PIPE_REMOTE_CACHE_WRITE: '1' });
      // A newer record that names the older run's entries, signed with a guess.
      const forgedId = '2999-01-01T00-00-00-000Z-f0f0';
      const record = JSON.stringify({ ...JSON.parse((await getObject(`signed-runs/pipe-cache-v1/runs/${older.id}.json`)).record), id: forgedId, startedAt: '2999-01-01T00:00:00.000Z' });
      const hmac = createHmac('sha256', 'guess').update(`pipe-run-record\n${record}`).digest('hex');
      await remote.write(`signed-runs/pipe-cache-v1/runs/${forgedId}.json`, JSON.stringify({ record, hmac }));

      const clone = await makeToyProject(WITH_INPUT);
      const gc = clone.pipe(['cache', 'gc', '--remote', '--max-age', '0d', '--grace', '0s', 'pipeline.yaml'], env);
      assert.equal(gc.status, 0, gc.stderr);
      assert.match(gc.stderr, new RegExp(`warning: remote run record ${forgedId} ignored: its signature does not match`));
      assert.deepEqual(await remote.entryKeys('signed-runs'), keysOf(latest));
    });

    it('pipe cache push also records the latest run of what it pushed, which gc then keeps', async () => {
      const byHand = await makeToyProject(WITH_INPUT);
      await writeFile(join(byHand.dir, 'data.txt'), 'a');
      const record = run(byHand, {});
      const push = byHand.pipe(['cache', 'push', 'pipeline.yaml'], remote.env('by-hand'));
      assert.equal(push.status, 0, push.stderr);
      assert.match(push.stdout, /4 pushed, 0 already there, 0 failed .*\nrecorded 1 latest run there/);
      assert.deepEqual(await remote.keys('by-hand/pipe-cache-v1/runs'), [`by-hand/pipe-cache-v1/runs/${record.id}.json`]);

      const clone = await makeToyProject(WITH_INPUT);
      const gc = clone.pipe(['cache', 'gc', '--remote', '--max-age', '0d', '--grace', '0s', 'pipeline.yaml'], remote.env('by-hand'));
      assert.equal(gc.status, 0, gc.stderr);
      assert.match(gc.stderr, /keeping the 4 entries the latest runs of pipeline 'toy' used/);
      assert.deepEqual(await remote.entryKeys('by-hand'), keysOf(record));
    });
  });
}
