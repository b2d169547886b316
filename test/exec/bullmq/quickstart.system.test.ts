// The quickstart (small: few faces, few epochs) through the queue with real parts: a redis-server and an s3rver
// on free ports, two `pipe worker` processes of this checkout, each with its own empty store, passing artifacts
// through the remote cache. The run gives the metrics of a local run; a worker killed during training hands its
// job to the other, and the run says the stage started over; a sweep's variants share their upstream stages;
// and Redis killed mid-run fails the run with a message and nothing half-written. Waits are on events (process
// output), never on time.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile, mkdtemp } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { listRuns } from '../../../src/runs/read.js';
import type { RunRecord } from '../../../src/runs/record.js';
import { startPipe, startWorker, type PipeProcess } from '../../../harness/pipe-process.js';
import { assertSharedStagesOnce } from '../../support/sweep-checks.js';
import { startRedis, type RedisServer } from '../../../harness/redis-server.js';
import { remoteEnv, startS3Server, type S3Server } from '../../../harness/s3-server-process.js';
import { PIPE_BIN, REPO_ROOT } from '../../../harness/toy-project.js';

const QUICKSTART = 'pipelines/quickstart.yaml';
const SMALL = ['--set', 'faces.count=300', '--set', 'train.workers=1'];
/** A worker's hold on a job lasts 3 s, so a killed worker's job moves on within seconds. */
const FAST_STALL = { PIPE_QUEUE_LOCK_S: '3' };

const tempDir = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

function pipe(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [PIPE_BIN, ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, CI: 'true', NO_COLOR: '1', ...env } });
}

async function onlyRun(store: string, filter: (r: RunRecord) => boolean = () => true): Promise<RunRecord> {
  const runs = (await listRuns(store)).filter(filter);
  assert.equal(runs.length, 1, runs.map((r) => r.id).join(', '));
  return runs[0];
}

/** Every entry of the store verifies, and nothing is left being written. */
async function assertStoreSound(store: string, env: Record<string, string> = {}): Promise<void> {
  const verify = pipe(['cache', 'verify', '--cache', store], env);
  assert.equal(verify.status, 0, `${verify.stdout}${verify.stderr}`);
  assert.match(verify.stdout, / 0 damaged/);
  assert.deepEqual(await readdir(join(store, 'tmp')).catch(() => []), [], `${store}/tmp holds entries being written`);
}

describe('the quickstart through the queue', { concurrency: false }, () => {
  let redis: RedisServer;
  let s3: S3Server;
  let submitterEnv: Record<string, string>;
  const workers: PipeProcess[] = [];
  const workerEnv = async () => ({ PIPE_ARTIFACTS: await tempDir('pipe-worker-store-'), ...remoteEnv(s3.port, 'queue', { PIPE_REMOTE_CACHE_WRITE: '1' }), ...FAST_STALL });

  before(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server()]);
    submitterEnv = { PIPE_ARTIFACTS: await tempDir('pipe-submitter-store-'), ...remoteEnv(s3.port, 'queue') };
    workers.push(...(await Promise.all([startWorker(REPO_ROOT, redis.url, await workerEnv()), startWorker(REPO_ROOT, redis.url, await workerEnv())])));
  });

  after(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all([redis?.stop(), s3?.stop()]);
  });

  it('two workers with empty stores of their own give the metrics of a local run, and the outputs arrive here', async () => {
    const args = ['run', QUICKSTART, ...SMALL, '--set', 'train.epochs=2'];
    const queued = startPipe(REPO_ROOT, [...args, '--queue', redis.url], submitterEnv);
    const { code } = await queued.exited;
    assert.equal(code, 0, queued.output);
    const record = await onlyRun(submitterEnv.PIPE_ARTIFACTS);
    assert.ok(Object.values(record.stages).every((s) => s.status === 'ran' && s.worker === hostname()), JSON.stringify(record.stages, ['status', 'worker']));
    // The live view names the worker beside each stage, as a local run's names the stage.
    assert.match(queued.stdout, /^✔ train \(train\) · done in .+ on /m);
    assert.match(queued.stdout, /^ {2}train: epoch 2\/2 · loss /m);
    // Both workers built stages (faces and build are ready at once, and each takes one job at a time), so inputs
    // went from one store to the other through the remote cache.
    for (const w of workers) assert.match(w.stdout, /^building /m, 'each worker built something');

    const localStore = await tempDir('pipe-local-store-');
    const local = pipe([...args, '--json'], { PIPE_ARTIFACTS: localStore });
    assert.equal(local.status, 0, local.stderr);
    const localRecord = JSON.parse(local.stdout) as RunRecord;
    const metrics = (store: string, r: RunRecord) => readFile(join(store, r.stages.evaluate.outputs.metrics), 'utf8').then((t) => JSON.parse(t) as unknown);
    assert.deepEqual(await metrics(submitterEnv.PIPE_ARTIFACTS, record), await metrics(localStore, localRecord));
    assert.equal(record.stages.report.key, localRecord.stages.report.key);
    await assertStoreSound(submitterEnv.PIPE_ARTIFACTS);
  });

  it('a worker killed during training: the other takes the job over after the stalled-job check, and the run says the stage started over', async () => {
    const building = Promise.race(workers.map((w) => w.next(/^building train /).then(() => w)));
    const run = startPipe(REPO_ROOT, ['run', QUICKSTART, ...SMALL, '--set', 'train.epochs=6', '--queue', redis.url], submitterEnv);
    const training = await building;
    // A checkpoint exists once the first epoch is done; it is in the killed worker's store only.
    await run.waitFor(/^ {2}train: epoch 1\/6 · loss /);
    await training.stop('SIGKILL');
    const { code } = await run.exited;
    assert.equal(code, 0, run.output);
    assert.match(run.stdout, /^ {2}train: the worker building it \(.+:\d+\) stopped answering: the job goes back to the queue for another worker$/m);
    assert.match(run.stdout, /^ {2}train: taken over by .+ after the earlier attempt stopped: starting over, since that attempt's checkpoints stayed in its own store$/m);
    assert.match(run.stdout, /^✔ train \(train\) · done in /m);
    const record = await onlyRun(submitterEnv.PIPE_ARTIFACTS, (r) => r.argv.includes('train.epochs=6'));
    assert.equal(record.status, 'ok');
    assert.deepEqual([record.stages.train.summary?.epochs, record.stages.train.summary?.resumedFromEpoch], [6, null], 'all six epochs, trained from the first');
    workers.splice(workers.indexOf(training), 1, await startWorker(REPO_ROOT, redis.url, await workerEnv()));
  });

  it('a sweep runs its variants on the workers, builds their shared stages once and prints the comparison', async () => {
    // Fewer faces than above, so that the shared stages are new to the remote cache too. Two variants: how a
    // sweep expands is the local sweep tests' business.
    const result = startPipe(REPO_ROOT, ['run', QUICKSTART, '--set', 'faces.count=240', '--set', 'train.workers=1', '--set', 'train.epochs=1', '--sweep', 'train.optimizer.learningRate=[0.002,0.0005]', '--queue', redis.url], submitterEnv);
    const { code } = await result.exited;
    assert.equal(code, 0, result.output);
    const sweepId = /^sweep (\S+): 2 variants .*, 2 at a time on the queue redis:\/\/127\.0\.0\.1:\d+$/m.exec(result.stdout)?.[1];
    assert.ok(sweepId, result.stdout);
    const records = (await listRuns(submitterEnv.PIPE_ARTIFACTS)).filter((r) => r.sweep?.id === sweepId);
    // build does not read the faces: the first test built it already.
    const variants = assertSharedStagesOnce(records, ['build'], 2);
    for (const id of ['train', 'evaluate', 'report']) assert.ok(variants.every((r) => r.stages[id].worker === hostname()), id);
    const table = result.stdout.slice(result.stdout.indexOf('quickstart: sweep of 2 variants'));
    assert.match(table, /^train\.optimizer\.learningRate\s+0\.002\s+0\.0005$/m);
    assert.equal([...(/^test accuracy\s+(.*)$/m.exec(table)?.[1] ?? '').matchAll(/([\d.]+)%/g)].length, 2, table);
  });
});

describe('Redis gone in the middle of a queued run', () => {
  it('fails the run naming the queue and what to do, without a stack trace, and leaves every store whole', async () => {
    const [redis, s3] = await Promise.all([startRedis(), startS3Server()]);
    const stores = await Promise.all([tempDir('pipe-submitter-store-'), tempDir('pipe-worker-store-')]);
    const remote = (extra: Record<string, string> = {}) => remoteEnv(s3.port, 'redis-gone', extra);
    const workers = await Promise.all(stores.slice(1).map((store) => startWorker(REPO_ROOT, redis.url, { PIPE_ARTIFACTS: store, ...remote({ PIPE_REMOTE_CACHE_WRITE: '1' }) })));
    try {
      const run = startPipe(REPO_ROOT, ['run', QUICKSTART, ...SMALL, '--set', 'train.epochs=20', '--queue', redis.url], {
        PIPE_ARTIFACTS: stores[0],
        PIPE_QUEUE_RECONNECT_S: '2',
        ...remote(),
      });
      await run.waitFor(/^ {2}train: epoch 1\/20 /);
      await redis.kill();
      const { code } = await run.exited;
      assert.equal(code, 1, run.output);
      const message = `lost the queue ${redis.url}: .*, and it did not come back within 2 s`;
      assert.match(run.stdout, new RegExp(`^✖ train \\(train\\) · failed: ${message}$`, 'm'));
      assert.match(run.output, new RegExp(`^error: ${message}\\nhint: start Redis at ${redis.url} again .*then run the same command`, 'm'));
      assert.doesNotMatch(run.output, /^\s+at /m, 'no stack trace');
      const record = await onlyRun(stores[0]);
      assert.equal(record.status, 'failed');
      assert.equal(record.stages.evaluate.status, 'skipped');
    } finally {
      // Stopped without Redis, a worker interrupts its stage (the stage cleans up after itself) and exits.
      await Promise.all(workers.map((w) => w.stop()));
      await redis.stop();
    }
    for (const store of stores) await assertStoreSound(store);
    // Every entry the workers pushed is whole: a fresh store pulls them all, each checked against its manifest.
    const fresh = await tempDir('pipe-fresh-store-');
    const pulled = pipe(['cache', 'pull', '--cache', fresh], remote());
    assert.equal(pulled.status, 0, pulled.stderr);
    assert.doesNotMatch(pulled.stderr, /ignored|damaged|corrupt/, pulled.stderr);
    await assertStoreSound(fresh);
    await s3.stop();
  });
});
