// The queue with real parts: a redis-server on a free port, `pipe worker` processes of the CLI over a toy project,
// and jobs added with BullMQ as a submitter would. A worker builds a stage into the artifact cache, a runs-on
// label routes a job only to the worker that has it, and a job planned from another pipeline file or other
// stage code is refused with the reason.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue, QueueEvents } from 'bullmq';
import { openPipeline } from '../src/cli/open-pipeline.js';
import { redisConnection } from '../src/cli/commands/worker.js';
import { queueFor, stageJob, type StageJob } from '../src/queue/stage-job.js';
import { startRedis, type RedisServer } from './support/redis-server.js';
import { makeToyProject, spawnPipe, TOY_PIPELINE, type ToyProject } from './support/toy-project.js';
import type { RunRecord } from '../src/runs/record.js';

let redis: RedisServer;
let toy: ToyProject;
let store: string;
const workers: ReturnType<typeof spawnPipe>[] = [];
const queues: Queue[] = [];
const events: QueueEvents[] = [];

async function startWorker(labels: string[]): Promise<ReturnType<typeof spawnPipe>> {
  const child = spawnPipe(toy.dir, ['worker', '--queue', redis.url, ...(labels.length ? ['--labels', labels.join(',')] : [])], { PIPE_ARTIFACTS: store });
  workers.push(child);
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  while (!out.includes(' ready: ')) {
    if (child.exitCode !== null) throw new Error(`worker exited: ${err}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

async function submit(job: StageJob): Promise<{ status: string; key: string; labels: string[] }> {
  const name = queueFor(job.stage.runsOn);
  const queue = new Queue(name, { connection: redisConnection(redis.url) });
  const queueEvents = new QueueEvents(name, { connection: redisConnection(redis.url) });
  queues.push(queue);
  events.push(queueEvents);
  await queueEvents.waitUntilReady();
  const added = await queue.add(job.stage.id, job, { attempts: 1 });
  return added.waitUntilFinished(queueEvents, 120_000);
}

describe('pipe worker', () => {
  before(async () => {
    redis = await startRedis();
    toy = await makeToyProject();
    store = await mkdtemp(join(tmpdir(), 'pipe-queue-store-'));
    await startWorker([]);
    await startWorker(['gpu']);
  });

  after(async () => {
    await Promise.all([...queues, ...events].map((q) => q.close()));
    for (const w of workers) {
      if (w.exitCode === null) {
        process.kill(w.pid!, 'SIGTERM');
        await once(w, 'exit');
      }
    }
    await redis?.stop();
  });

  it('builds stages into the artifact cache, routes runs-on labels, and refuses jobs from another checkout', async () => {
    const content = await readFile(toy.pipeline, 'utf8');
    const { plan } = await openPipeline(toy.pipeline, { store: { flag: store } });

    const source = await submit(stageJob('pipeline.yaml', content, [], plan, 'source', []));
    assert.equal(source.status, 'ran');
    assert.equal(source.key, plan.stages.source.key);
    assert.ok(existsSync(join(store, 'entries', source.key.slice(0, 2), source.key, 'manifest.json')));

    // Only the worker with the gpu label reads the gpu queue; its input comes from the cache.
    const scale = await submit(stageJob('pipeline.yaml', content, [], plan, 'scale', ['gpu']));
    assert.equal(scale.status, 'ran');
    assert.deepEqual(scale.labels, ['gpu']);
    // A job without labels may go to either worker; the stage is in the cache now.
    const again = await submit(stageJob('pipeline.yaml', content, [], plan, 'scale', []));
    assert.equal(again.status, 'cached');

    // A job planned from another version of the file, or with other stage code, is refused.
    const edited = `${content}# edited\n`;
    const otherFile = stageJob('pipeline.yaml', edited, [], plan, 'sum', []);
    await assert.rejects(submit(otherFile), /refused: pipeline\.yaml in this checkout differs from the job's/);
    const otherCode = stageJob('pipeline.yaml', content, [], plan, 'sum', []);
    otherCode.stage.code = '0'.repeat(64);
    await assert.rejects(submit(otherCode), /refused: the code of stage 'sum' \(\.\/stages\/sum\.mjs\) in this checkout differs/);
    const outside = stageJob('../pipeline.yaml', content, [], plan, 'sum', []);
    await assert.rejects(submit(outside), /outside this checkout/);
    const sumKey = plan.stages.sum.key;
    assert.ok(!existsSync(join(store, 'entries', sumKey.slice(0, 2), sumKey)), 'a refused job built nothing');
  });

  it('pipe run --queue builds the stale stages on the workers and gives what a local run gives', async () => {
    const queued = toy.pipe(['run', 'pipeline.yaml', '--queue', redis.url, '--json'], { PIPE_ARTIFACTS: store });
    assert.equal(queued.status, 0, queued.stderr);
    const record = JSON.parse(queued.stdout) as RunRecord;
    // source and scale were built by the jobs above; sum and report now, by the workers.
    assert.deepEqual(Object.fromEntries(Object.entries(record.stages).map(([id, s]) => [id, s.status])), { source: 'cached', scale: 'cached', sum: 'ran', report: 'ran' });
    const localStore = await mkdtemp(join(tmpdir(), 'pipe-queue-local-'));
    const local = toy.pipe(['run', 'pipeline.yaml', '--json'], { PIPE_ARTIFACTS: localStore });
    assert.equal(local.status, 0, local.stderr);
    const localRecord = JSON.parse(local.stdout) as RunRecord;
    assert.equal(record.stages.report.key, localRecord.stages.report.key);
    assert.equal(
      await readFile(join(store, record.stages.report.outputs.text), 'utf8'),
      await readFile(join(localStore, localRecord.stages.report.outputs.text), 'utf8'),
    );
  });

  it('says when no worker has the labels a stage needs, and Ctrl-C removes the job nobody took', async () => {
    await writeFile(join(toy.dir, 'tpu.yaml'), TOY_PIPELINE.replace('    inputs: { sum: sum }\n', "    inputs: { sum: sum }\n    runs-on: [tpu]\n    with: { title: on a tpu }\n"));
    const child = spawnPipe(toy.dir, ['run', 'tpu.yaml', '--queue', redis.url], { PIPE_ARTIFACTS: store });
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    while (!out.includes('no worker reads queue pipe-stages-tpu (runs-on: tpu)')) {
      assert.equal(child.exitCode, null, out);
      await new Promise((r) => setTimeout(r, 100));
    }
    process.kill(child.pid!, 'SIGINT');
    const [code] = await once(child, 'exit');
    assert.equal(code, 130, out);
    const queue = new Queue(queueFor(['tpu']), { connection: redisConnection(redis.url) });
    queues.push(queue);
    assert.equal(await queue.getWaitingCount(), 0);
  });
});
