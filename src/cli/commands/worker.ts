// `pipe worker`: takes stage jobs from a BullMQ queue on Redis and builds each into the artifact cache exactly as
// a local run would (buildIntoCache), after checking the job was planned from this checkout's pipeline file and
// stage code. Inputs come from the artifact cache, outputs go to it; nothing but ids and keys comes back.
import { PipeError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';

export const usage = `Usage: pipe worker --queue redis://host:6379 [--labels gpu,big-mem] [--concurrency 1]

Takes stage jobs from the queue and builds them into the artifact cache, as 'pipe run' would build them here.
Run it in a checkout of the same commit as the machine that submits the jobs: a job carries the pipeline's
content and the keys it was planned with, never code, and the worker refuses a job whose pipeline file or stage
code differs from its own checkout. A stage's inputs are read from the artifact cache (this machine's store,
or the remote tier set by PIPE_REMOTE_CACHE) and its outputs written there.

Options:
  --queue <url>        the Redis server (also $PIPE_QUEUE): redis://[user:password@]host[:port][/db]
  --labels <a,b>       labels this machine has: it also takes stages whose runs-on: asks for them
  --concurrency <n>    stages built at once (default 1)

Stop it with Ctrl-C or SIGTERM: it finishes or hands back the stage it is building, then exits.

Examples:
  pipe worker --queue redis://queue.internal:6379
  pipe worker --queue redis://queue.internal:6379 --labels gpu --concurrency 1
`;

/** BullMQ connection options from a redis:// URL. */
export function redisConnection(url: string): { host: string; port: number; username?: string; password?: string; db?: number; maxRetriesPerRequest: null } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PipeError(`--queue ${url}: not a URL`, { hint: 'e.g. --queue redis://localhost:6379' });
  }
  if (parsed.protocol !== 'redis:') throw new PipeError(`--queue ${url}: expected a redis:// URL`, { hint: 'e.g. --queue redis://localhost:6379' });
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname || 'localhost',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    // Workers block on Redis; BullMQ needs ioredis to retry forever instead of failing commands.
    maxRetriesPerRequest: null,
  };
}

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('worker', argv, {
    queue: { type: 'string' },
    labels: { type: 'string', default: '' },
    concurrency: { type: 'string', default: '1' },
  });
  if (positionals.length) throw new PipeError(`pipe worker takes no pipeline (got ${positionals[0]}): jobs name theirs`, { hint: 'pipe worker --queue redis://host:6379' });
  const url = values.queue ?? process.env.PIPE_QUEUE;
  if (!url) throw new PipeError('which queue? give --queue redis://host:6379 (or set PIPE_QUEUE)');
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new PipeError(`--concurrency ${values.concurrency}: expected a whole number of at least 1`);
  const labels = values.labels!.split(',').map((l) => l.trim()).filter(Boolean);

  const { queuesOf } = await import('../../queue/stage-job.js');
  const { processStageJob } = await import('../queue-worker.js');
  const { Worker } = await import('bullmq');
  const { hostname } = await import('node:os');
  const connection = redisConnection(url);
  const name = `${hostname()}:${process.pid}`;
  const abort = new AbortController();
  // One BullMQ worker per queue this machine may read; a shared count keeps to --concurrency stages in all.
  let running = 0;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    while (running >= concurrency) await new Promise<void>((r) => waiting.push(r));
    running++;
  };
  const release = () => {
    running--;
    waiting.shift()?.();
  };
  const workers = queuesOf(labels).map(
    (queue) =>
      new Worker(
        queue,
        async (job) => {
          await slot();
          try {
            return await processStageJob(job.data, { worker: name, labels, signal: abort.signal, progress: (message) => void job.updateProgress({ message, worker: name }) });
          } finally {
            release();
          }
        },
        { connection, concurrency, autorun: false },
      ),
  );
  let failedToConnect: Error | undefined;
  for (const w of workers) {
    w.on('error', (err) => {
      failedToConnect ??= err;
      process.stderr.write(`pipe worker: ${err.message}\n`);
    });
    w.on('completed', (job) => process.stdout.write(`done ${job.data?.stage?.id} (${job.returnvalue?.status})\n`));
    w.on('failed', (job, err) => process.stdout.write(`failed ${job?.data?.stage?.id}: ${err.message}\n`));
  }
  const stop = () => {
    abort.abort();
    void Promise.all(workers.map((w) => w.close()));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  process.stdout.write(`worker ${name} ready: ${url.replace(/\/\/[^@/]*@/, '//')} ${labels.length ? `labels ${labels.join(', ')}` : 'no labels'}, ${concurrency} at a time\n`);
  await Promise.all(workers.map((w) => w.run()));
  return failedToConnect && !abort.signal.aborted ? 1 : 0;
}
