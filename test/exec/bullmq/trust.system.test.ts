// Jobs in Redis are data from whoever can write to it. With real parts (a redis-server on a free port, `pipe
// worker` processes of the CLI over a toy project, jobs added with BullMQ as an intruder would add them): a job
// whose --set points a stage at a module outside the checkout (a path, or a symbolic link inside the checkout
// that leads out) is refused before the module is imported; a job that says where to keep artifacts is refused
// and nothing is written there; a job whose stage code differs is refused before the checkout's module is
// imported; and a worker with a queue key serves only jobs signed with it. Each module here writes a marker
// file from its top-level code, so "never imported" is seen on disk.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openPipeline } from '../../../src/exec/open-pipeline.js';
import { pipelineKey } from '../../../src/plan/plan-document.js';
import { JOB_FORMAT, stageJob, type StageJob } from '../../../src/exec/bullmq/job.js';
import { startWorker, type PipeProcess } from '../../../harness/pipe-process.js';
import { queueClient, type QueueClient } from '../../support/queue-client.js';
import { startRedis, type RedisServer } from '../../../harness/redis-server.js';
import { makeToyProject, TOY_PIPELINE, type ToyProject } from '../../../harness/toy-project.js';

/** A valid stage module whose top-level code writes `marker`: it exists once the module has been imported. */
const markerStage = (marker: string) => `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(marker)}, 'imported by ' + process.pid);
export default {
  name: 'toy-marker', version: '1', description: 'writes a marker when imported',
  params: { type: 'object', additionalProperties: false, properties: {} },
  inputs: { numbers: { description: 'numbers' } },
  outputs: { sum: { file: 'sum.json', description: 'a sum' } },
  async run(ctx) { (await import('node:fs')).writeFileSync(ctx.output('sum'), '{"sum":0}'); },
};
`;

describe('pipe worker and jobs it must not trust', () => {
  let redis: RedisServer;
  let toy: ToyProject;
  let client: QueueClient;
  let outside: string;
  let content: string;
  const workers: PipeProcess[] = [];
  /** Workers read only the queues of their labels: jobs for the open worker and the keyed one never cross. */
  const OPEN = ['open'];
  const KEYED = ['keyed'];
  const QUEUE_KEY = 'a queue secret';

  /** A job written by hand, as anyone who can write to Redis could: no plan behind it. */
  const crafted = (stage: string, sets: string[], runsOn = OPEN): StageJob => ({
    format: JOB_FORMAT,
    pipeline: { file: 'pipeline.yaml', content, key: pipelineKey(content), sets },
    stage: { id: stage, key: 'f'.repeat(64), code: 'f'.repeat(64), runsOn },
  });

  before(async () => {
    redis = await startRedis();
    client = queueClient(redis.url);
    toy = await makeToyProject();
    content = await readFile(toy.pipeline, 'utf8');
    outside = await mkdtemp(join(tmpdir(), 'pipe-outside-'));
    // No PIPE_ARTIFACTS: the workers keep artifacts where a run in the checkout would (its artifacts/ folder).
    workers.push(await startWorker(toy.dir, redis.url, {}, OPEN));
    workers.push(await startWorker(toy.dir, redis.url, { PIPE_QUEUE_KEY: QUEUE_KEY }, KEYED));
  });

  after(async () => {
    await client?.close();
    await Promise.all(workers.map((w) => w.stop()));
    await redis?.stop();
  });

  it('refuses a --set that points a stage at a module outside the checkout, without importing it', async () => {
    const marker = join(outside, 'absolute-imported');
    const evil = join(outside, 'evil.mjs');
    await writeFile(evil, markerStage(marker));
    await assert.rejects(
      client.submit(crafted('sum', [`stages.sum.uses=${evil}`])),
      (err: Error) => err.message.startsWith(`refused: stage 'sum' of the job uses ${evil}, which is outside this checkout`),
    );
    assert.ok(!existsSync(marker), 'the module outside the checkout was imported');
  });

  it('refuses a symbolic link inside the checkout that leads out of it, without importing what it leads to', async () => {
    const marker = join(outside, 'linked-imported');
    const target = join(outside, 'linked.mjs');
    await writeFile(target, markerStage(marker));
    await symlink(target, join(toy.dir, 'stages', 'linked.mjs'));
    await assert.rejects(
      client.submit(crafted('sum', ['stages.sum.uses=./stages/linked.mjs'])),
      (err: Error) => err.message.startsWith(`refused: stage 'sum' of the job uses ./stages/linked.mjs (${target}), which is outside this checkout`),
    );
    assert.ok(!existsSync(marker), 'the module the link leads to was imported');
    // So is a pipeline file that is such a link, though its content is the job's.
    await writeFile(join(outside, 'pipeline.yaml'), content);
    await symlink(join(outside, 'pipeline.yaml'), join(toy.dir, 'linked.yaml'));
    const linkedPipeline = crafted('source', []);
    linkedPipeline.pipeline.file = 'linked.yaml';
    await assert.rejects(client.submit(linkedPipeline), /refused: the job's pipeline file 'linked\.yaml' leads outside this checkout/);
  });

  it('refuses a job that says where to keep artifacts, and writes nothing there', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'pipe-job-cache-'));
    const { plan } = await openPipeline(toy.pipeline, { store: { flag: join(toy.dir, 'artifacts') } });
    for (const set of [`cache=${elsewhere}`, `cache.dir=${elsewhere}`, 'cache.remote=s3://someone-elses-bucket/pipe']) {
      // A job the worker would build but for the set, which does not change the stage's key.
      const job = stageJob({ file: 'pipeline.yaml', content, sets: [] }, plan, 'source', { runsOn: OPEN, force: true });
      job.pipeline.sets = [set];
      await assert.rejects(
        client.submit(job),
        (err: Error) => err.message.startsWith(`refused: the job's --set ${set} says where to keep artifacts, which a worker takes only from its own settings`),
      );
    }
    assert.deepEqual(await readdir(elsewhere), []);
  });

  it("keeps a run's own --set cache=… out of the jobs it submits, so workers take those jobs", async () => {
    const { plan } = await openPipeline(toy.pipeline, { store: { flag: join(toy.dir, 'artifacts') } });
    const sets = [`cache=${outside}`, 'cache.remote=s3://bucket/pipe', 'source.n=5'];
    const job = stageJob({ file: 'pipeline.yaml', content, sets }, plan, 'source', { runsOn: OPEN });
    assert.deepEqual(job.pipeline.sets, ['source.n=5']);
    assert.equal((await client.submit(job)).key, plan.stages.source.key);
  });

  it("refuses a job whose stage code differs before importing the checkout's module", async () => {
    const marker = join(outside, 'checkout-module-imported');
    await writeFile(join(toy.dir, 'stages', 'marker.mjs'), markerStage(marker));
    const markerPipeline = TOY_PIPELINE.replace('uses: ./stages/sum.mjs', 'uses: ./stages/marker.mjs');
    await writeFile(join(toy.dir, 'marker.yaml'), markerPipeline);
    const job = crafted('sum', []);
    job.pipeline = { file: 'marker.yaml', content: markerPipeline, key: pipelineKey(markerPipeline), sets: [] };
    await assert.rejects(client.submit(job), /refused: the code of stage 'sum' \(\.\/stages\/marker\.mjs\) in this checkout differs from the submitter's/);
    assert.ok(!existsSync(marker), "the checkout's module was imported before its code was compared");
  });

  it('a worker with a queue key serves signed jobs only, and pipe run signs with the same key', async () => {
    const { plan } = await openPipeline(toy.pipeline, { store: { flag: join(toy.dir, 'artifacts') } });
    const pipeline = { file: 'pipeline.yaml', content, sets: [] };
    await assert.rejects(client.submit(stageJob(pipeline, plan, 'source', { runsOn: KEYED })), /refused: the job is not signed, and this worker serves only jobs signed with its queue key/);
    await assert.rejects(
      client.submit(stageJob(pipeline, plan, 'source', { runsOn: KEYED, key: 'another secret' })),
      /refused: the job's signature does not match this worker's queue key/,
    );
    // A signed job edited after signing (here: pointed at another stage) no longer matches.
    const edited = stageJob(pipeline, plan, 'source', { runsOn: KEYED, key: QUEUE_KEY });
    edited.pipeline.sets = ['source.n=7'];
    await assert.rejects(client.submit(edited), /refused: the job's signature does not match/);
    const signed = await client.submit(stageJob(pipeline, plan, 'source', { runsOn: KEYED, key: QUEUE_KEY }));
    assert.deepEqual([signed.key, signed.labels], [plan.stages.source.key, KEYED], 'the keyed worker served it');

    await writeFile(join(toy.dir, 'keyed.yaml'), TOY_PIPELINE.replaceAll('    uses:', '    runs-on: [keyed]\n    uses:'));
    const store = { PIPE_ARTIFACTS: join(toy.dir, 'artifacts') };
    const unsigned = toy.pipe(['run', 'keyed.yaml', '--queue', redis.url], store);
    assert.equal(unsigned.status, 1, unsigned.stdout);
    assert.match(unsigned.stderr, /^error: refused: the job is not signed/m);
    const run = toy.pipe(['run', 'keyed.yaml', '--queue', redis.url], { ...store, PIPE_QUEUE_KEY: QUEUE_KEY });
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /✔ report \(\.\/stages\/report\.mjs\) · done in .+ on /);
  });
});
