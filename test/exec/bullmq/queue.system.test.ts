// The queue with real parts: a redis-server on a free port, `pipe worker` processes of the CLI over a toy project,
// and jobs added with BullMQ as a submitter would. A worker builds a stage into the artifact cache, a runs-on
// label routes a job only to the worker that has it, a job planned from another pipeline file or other stage
// code is refused with the reason, `pipe run --queue` submits one flow, and a stage failing on a worker fails
// the run with the stage's own words. Waits are on events (process output, queue events), never on time.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openPipeline } from '../../../src/exec/open-pipeline.js';
import { stageFlow, WAIT_QUEUE, type WaitJob } from '../../../src/exec/bullmq/flow.js';
import { queueFor, stageJob, type StageJob } from '../../../src/exec/bullmq/job.js';
import { listRuns } from '../../../src/runs/read.js';
import type { RunRecord } from '../../../src/runs/record.js';
import { startPipe, startWorker, type PipeProcess } from '../../../harness/pipe-process.js';
import { queueClient, type QueueClient } from '../../support/queue-client.js';
import { startRedis, type RedisServer } from '../../../harness/redis-server.js';
import { makeToyProject, TOY_PIPELINE, type ToyProject } from '../../../harness/toy-project.js';

let redis: RedisServer;
let toy: ToyProject;
let store: string;
let client: QueueClient;
const workers: PipeProcess[] = [];
const queueNamed = (name: string) => client.queueNamed(name);
const submit = (job: StageJob) => client.submit(job);

const toyPipeline = { file: 'pipeline.yaml', sets: [] as string[] };

describe('pipe worker', () => {
  before(async () => {
    redis = await startRedis();
    client = queueClient(redis.url);
    toy = await makeToyProject();
    store = await mkdtemp(join(tmpdir(), 'pipe-queue-store-'));
    workers.push(await startWorker(toy.dir, redis.url, { PIPE_ARTIFACTS: store }));
    workers.push(await startWorker(toy.dir, redis.url, { PIPE_ARTIFACTS: store }, ['gpu']));
  });

  after(async () => {
    await client?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.stop();
  });

  it('builds stages into the artifact cache, routes runs-on labels, and refuses jobs from another checkout', async () => {
    const content = await readFile(toy.pipeline, 'utf8');
    const { plan } = await openPipeline(toy.pipeline, { store: { flag: store } });
    const pipeline = { ...toyPipeline, content };

    const source = await submit(stageJob(pipeline, plan, 'source', { runsOn: [] }));
    assert.equal(source.status, 'ran');
    assert.equal(source.key, plan.stages.source.key);
    assert.ok(existsSync(join(store, 'entries', source.key.slice(0, 2), source.key, 'manifest.json')));

    // Only the worker with the gpu label reads the gpu queue; its input comes from the cache.
    const scale = await submit(stageJob(pipeline, plan, 'scale', { runsOn: ['gpu'] }));
    assert.equal(scale.status, 'ran');
    assert.deepEqual(scale.labels, ['gpu']);
    // A job without labels may go to either worker; the stage is in the cache now.
    const again = await submit(stageJob(pipeline, plan, 'scale', { runsOn: [] }));
    assert.equal(again.status, 'cached');

    // A job planned from another version of the file, or with other stage code, is refused.
    const otherFile = stageJob({ ...pipeline, content: `${content}# edited\n` }, plan, 'sum', { runsOn: [] });
    await assert.rejects(submit(otherFile), /refused: pipeline\.yaml in this checkout differs from the job's/);
    const otherCode = stageJob(pipeline, plan, 'sum', { runsOn: [] });
    otherCode.stage.code = '0'.repeat(64);
    await assert.rejects(submit(otherCode), /refused: the code of stage 'sum' \(\.\/stages\/sum\.mjs\) in this checkout differs/);
    const outside = stageJob({ ...pipeline, file: '../pipeline.yaml' }, plan, 'sum', { runsOn: [] });
    await assert.rejects(submit(outside), /outside this checkout/);
    const sumKey = plan.stages.sum.key;
    assert.ok(!existsSync(join(store, 'entries', sumKey.slice(0, 2), sumKey)), 'a refused job built nothing');
  });

  it('pipe run --queue builds the stale stages on the workers as one flow and gives what a local run gives', async () => {
    const queued = toy.pipe(['run', 'pipeline.yaml', '--queue', redis.url, '--json'], { PIPE_ARTIFACTS: store });
    assert.equal(queued.status, 0, queued.stderr);
    const record = JSON.parse(queued.stdout) as RunRecord;
    // source and scale were built by the jobs above; sum and report now, by the workers, which the record names.
    assert.deepEqual(Object.fromEntries(Object.entries(record.stages).map(([id, s]) => [id, s.status])), { source: 'cached', scale: 'cached', sum: 'ran', report: 'ran' });
    assert.equal(record.stages.report.worker, hostname());
    // One flow: the run's root waits for report, whose child is sum.
    const { queue } = await queueNamed(WAIT_QUEUE);
    const root = await queue.getJob(record.id);
    assert.ok(root, 'the flow has a root named after the run');
    assert.deepEqual(Object.keys(await root.getChildrenValues()), [`bull:pipe-stages:${record.id}.report`]);
    const { queue: stages } = await queueNamed('pipe-stages');
    const report = await stages.getJob(`${record.id}.report`);
    assert.deepEqual(Object.keys((await report!.getChildrenValues()) ?? {}), [`bull:pipe-stages:${record.id}.sum`]);

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

  it('fails the run with the error of a stage that failed on a worker, and skips what needs it', async () => {
    await writeFile(
      join(toy.dir, 'stages', 'explode.mjs'),
      `export default {
  name: 'toy-explode', version: '1', description: 'fails',
  params: { type: 'object', additionalProperties: false, properties: {} },
  inputs: { numbers: { description: 'numbers' } },
  outputs: { numbers: { file: 'numbers.json', description: 'never written' } },
  async run() { throw new Error('the numbers do not add up (3 is odd)'); },
};
`,
    );
    await writeFile(join(toy.dir, 'explode.yaml'), TOY_PIPELINE.replace('uses: ./stages/scale.mjs', 'uses: ./stages/explode.mjs').replace('    with: { factor: 2 }\n', ''));
    const result = toy.pipe(['run', 'explode.yaml', '--queue', redis.url], { PIPE_ARTIFACTS: store });
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, /^stage 'scale' failed:\nerror: the numbers do not add up \(3 is odd\)$/m);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    assert.match(result.stdout, /✖ scale \(\.\/stages\/explode\.mjs\) · failed: the numbers do not add up \(3 is odd\)/);
    assert.match(result.stdout, /↓ sum \(\.\/stages\/sum\.mjs\) · skipped: upstream stage 'scale' did not finish/);
    const [failed] = (await listRuns(store)).filter((r) => r.pipeline.file === 'explode.yaml');
    assert.equal(failed.status, 'failed');
    assert.equal(failed.stages.scale.error, 'the numbers do not add up (3 is odd)');
  });

  it('fails a run whose queue cannot be reached, saying where it looked and what to check', async () => {
    const closed = createServer().listen(0, '127.0.0.1');
    await once(closed, 'listening');
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const fresh = await mkdtemp(join(tmpdir(), 'pipe-queue-unreachable-'));
    const result = toy.pipe(['run', 'pipeline.yaml', '--queue', `redis://127.0.0.1:${port}`], { PIPE_ARTIFACTS: fresh, PIPE_QUEUE_RECONNECT_S: '1' });
    assert.equal(result.status, 1, result.stdout);
    assert.match(result.stderr, new RegExp(`^error: cannot reach the queue redis://127\\.0\\.0\\.1:${port}: .*ECONNREFUSED.* \\(tried for 1 s\\)\nhint: is Redis running there\\?`, 'm'));
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
  });

  it('says when no worker has the labels a stage needs, and Ctrl-C removes the jobs nobody took', async () => {
    await writeFile(join(toy.dir, 'tpu.yaml'), TOY_PIPELINE.replace('    inputs: { sum: sum }\n', "    inputs: { sum: sum }\n    runs-on: [tpu]\n    with: { title: on a tpu }\n"));
    const child = startPipe(toy.dir, ['run', 'tpu.yaml', '--queue', redis.url], { PIPE_ARTIFACTS: store });
    await child.waitFor(/no worker reads queue pipe-stages-tpu \(runs-on: tpu\)/);
    const { code } = await child.stop('SIGINT');
    assert.equal(code, 130, child.output);
    const { queue } = await queueNamed(queueFor(['tpu']));
    assert.equal(await queue.getWaitingCount(), 0);
    const { queue: waits } = await queueNamed(WAIT_QUEUE);
    assert.equal(await waits.getWaitingChildrenCount(), 0, 'the flow root went too');
  });
});

describe('the flow of a run', () => {
  // The stale stages of a protocol with two trainings that share a model (fer2013-paper-protocol's shape).
  const upstream: Record<string, string[]> = {
    ingest: [],
    split: ['ingest'],
    leakage: ['split'],
    oversample: ['split'],
    normalise: ['oversample'],
    build: [],
    train: ['build', 'normalise'],
    evaluate: ['train', 'normalise'],
    'oversample-all': ['ingest'],
    'split-random': ['oversample-all'],
    'normalise-leaky': ['split-random'],
    'train-leaky': ['build', 'normalise-leaky'],
    'evaluate-leaky': ['train-leaky', 'normalise-leaky'],
    report: ['leakage', 'evaluate', 'evaluate-leaky', 'train', 'build'],
  };
  const order = Object.keys(upstream);
  const flowOf = (stale: Set<string>) =>
    stageFlow('run-1', order, stale, (id) => upstream[id], (id) => ({ queue: id.startsWith('train') ? 'pipe-stages-gpu' : 'pipe-stages', data: { stage: { id } } as StageJob }));

  it('puts every stale stage in the tree once, below or waited for by each stage that reads it, and no two independent stages in a row', () => {
    const flow = flowOf(new Set(order));
    const below = new Map<string, Set<string>>(); // stage -> stages in its subtree
    const waits = new Map<string, string[]>(); // stage -> stages its wait job names
    const seen: string[] = [];
    const walk = (node: NonNullable<typeof flow.root.children>[number]): Set<string> => {
      const inside = new Set<string>();
      for (const child of node.children ?? []) {
        if (child.queueName === WAIT_QUEUE) waits.set(node.name, (child.data as WaitJob).waitsFor.map((w) => w.stage));
        else {
          seen.push(child.name);
          inside.add(child.name);
          for (const id of walk(child)) inside.add(id);
        }
      }
      below.set(node.name, inside);
      return inside;
    };
    walk(flow.root);
    assert.deepEqual([...seen].sort(), [...order].sort());
    for (const [id, inputs] of Object.entries(upstream)) {
      for (const u of inputs) assert.ok(below.get(id)!.has(u) || waits.get(id)?.includes(u), `${id} starts before ${u} is done`);
    }
    // The two trainings share only `build`: neither waits for the other.
    for (const [a, b] of [['train', 'train-leaky'], ['train-leaky', 'train']]) {
      assert.ok(!below.get(a)!.has(b) && !(waits.get(a) ?? []).includes(b), `${a} waits for ${b}`);
    }
    assert.equal(flow.jobs.get('train')!.queue, 'pipe-stages-gpu');
    assert.deepEqual(flow.topDown[0], { queue: WAIT_QUEUE, jobId: 'run-1' });
  });

  it('leaves cached stages out: their readers neither hold nor wait for them', () => {
    const flow = flowOf(new Set(['train', 'evaluate', 'report']));
    assert.deepEqual([...flow.jobs.keys()], ['train', 'evaluate', 'report']);
    const report = flow.root.children!.find((c) => c.name === 'report')!;
    const waited = report.children!.filter((c) => c.queueName === WAIT_QUEUE).flatMap((c) => (c.data as WaitJob).waitsFor.map((w) => w.stage));
    // report reads evaluate (its child) and train (evaluate's child, so waited for); leakage and the rest are cached.
    assert.deepEqual(report.children!.filter((c) => c.queueName !== WAIT_QUEUE).map((c) => c.name), ['evaluate']);
    assert.deepEqual(waited, ['train']);
  });
});
