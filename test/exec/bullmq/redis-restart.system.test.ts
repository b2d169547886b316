// Redis restarted empty (no persistence) on the same port while a queued run waits on its jobs: the run fails
// saying the queue lost its jobs and how to go on, and the same command then finishes, taking what was done
// from the cache. Real parts: a redis-server killed by its PID and started again, a `pipe worker` and `pipe run
// --queue` of the CLI over a toy project. Waits are on process output, never on time.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { listRuns } from '../../../src/runs/read.js';
import { startPipe, startWorker } from '../../../harness/pipe-process.js';
import { startRedis } from '../../../harness/redis-server.js';
import { makeToyProject, TOY_PIPELINE } from '../../../harness/toy-project.js';

describe('Redis restarted empty while a queued run waits', () => {
  it('fails the run saying the queue lost its jobs and how to resume; the same command then finishes', async () => {
    const first = await startRedis();
    const toy = await makeToyProject();
    // scale takes a while, so that its job is being built when Redis goes.
    await writeFile(join(toy.dir, 'slow.yaml'), TOY_PIPELINE.replace('with: { factor: 2 }', 'with: { factor: 2, delayMs: 400 }'));
    const env = { PIPE_ARTIFACTS: await mkdtemp(join(tmpdir(), 'pipe-restart-store-')) };
    const worker = await startWorker(toy.dir, first.url, env);
    let again: Awaited<ReturnType<typeof startRedis>> | undefined;
    try {
      const run = startPipe(toy.dir, ['run', 'slow.yaml', '--queue', first.url], env);
      await worker.waitFor(/^building scale /);
      await first.kill();
      again = await startRedis(first.port);
      const { code } = await run.exited;
      assert.equal(code, 1, run.output);
      const where = first.url.replace(/\./g, '\\.');
      assert.match(
        run.output,
        new RegExp(`^stage 'scale' failed:\nerror: the queue ${where} lost this run's jobs: Redis restarted empty, or was flushed\nhint: run the same pipe run again: the stages that finished come from the artifact cache`, 'm'),
      );
      assert.doesNotMatch(run.output, /removed from the queue/);
      assert.doesNotMatch(run.output, /^\s+at /m, 'no stack trace');

      const resumed = startPipe(toy.dir, ['run', 'slow.yaml', '--queue', first.url], env);
      const { code: resumedCode } = await resumed.exited;
      assert.equal(resumedCode, 0, resumed.output);
      const [latest] = (await listRuns(env.PIPE_ARTIFACTS)).filter((r) => r.status === 'ok');
      assert.equal(latest.stages.source.status, 'cached', 'what finished before Redis went comes from the cache');
    } finally {
      await worker.stop();
      await Promise.all([first.stop(), again?.stop()]);
    }
  });
});
