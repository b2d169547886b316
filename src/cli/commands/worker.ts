// `pipe worker`: takes stage jobs from a BullMQ queue on Redis and builds each into the artifact cache exactly as
// a local run would (buildIntoCache), after checking the job was planned from this checkout's pipeline file and
// stage code. Inputs come from the artifact cache, outputs go to it; nothing but ids and keys comes back.
// It also completes the flow's wait jobs (src/queue/stage-flow.ts), which cost nothing but a connection.
import { PipeError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';

export const usage = `Usage: pipe worker --queue redis://host:6379 [--labels gpu,big-mem] [--concurrency 1]

Takes stage jobs from the queue and builds them into the artifact cache, as 'pipe run' would build them here.
Run it in a checkout of the same commit as the machine that submits the jobs: a job carries the pipeline's
content and the keys it was planned with, never code. Before importing any stage module the worker refuses a
job whose pipeline file or stage code differs from its own checkout, that names a stage module outside the
checkout (symbolic links followed), or whose --set says where to keep artifacts (cache=...). A stage's inputs
are read from the artifact cache (this machine's store, or the remote tier set by PIPE_REMOTE_CACHE) and its
outputs written there: workers on several machines need the remote cache, with PIPE_REMOTE_CACHE_WRITE=1 so
that what they build reaches the others.

With PIPE_QUEUE_KEY set (any secret), the worker serves only jobs signed with that key: set the same key where
'pipe run --queue' is started, which signs its jobs with it. Set one wherever others can write to the Redis.

Options:
  --queue <url>        the Redis server (also $PIPE_QUEUE): redis://[user:password@]host[:port][/db]
  --labels <a,b>       labels this machine has: it also takes stages whose runs-on: asks for them
  --concurrency <n>    stages built at once (default 1)

A worker that dies (killed, power lost) stops renewing its hold on the stage it was building; after
PIPE_QUEUE_LOCK_S seconds (default 30) another worker's check finds the job stalled and takes it over, and the
run says whether the stage resumed from a checkpoint in that worker's store or started over. If Redis goes
away, the worker keeps building the stage it has and reconnects by itself.

Stop it with Ctrl-C or SIGTERM: it hands the stage it is building back to the queue (another worker takes it;
a checkpoint stays in this store), then exits.

Examples:
  pipe worker --queue redis://queue.internal:6379
  pipe worker --queue redis://queue.internal:6379 --labels gpu --concurrency 1
`;

/** How long a worker's hold on a job lasts without renewal, and how often it looks for stalled jobs (BullMQ's default). */
const DEFAULT_LOCK_S = 30;
/** Errors that mean Redis cannot be reached (ioredis and Node socket errors). */
const CONNECTION_FAULT = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EPIPE|Connection is closed/;
/** How long a stopping worker waits for Redis to take its jobs back. */
const STOP_TIMEOUT_MS = 10_000;

function lockSeconds(): number {
  const text = process.env.PIPE_QUEUE_LOCK_S?.trim();
  if (!text) return DEFAULT_LOCK_S;
  const seconds = Number(text);
  if (!(seconds >= 1) || !Number.isFinite(seconds)) throw new PipeError(`PIPE_QUEUE_LOCK_S '${text}' is not a number of seconds of at least 1`, { hint: 'e.g. PIPE_QUEUE_LOCK_S=30' });
  return seconds;
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
  const lockMs = lockSeconds() * 1000;

  const { queueKey, queuesOf } = await import('../../queue/stage-job.js');
  const { WAIT_QUEUE } = await import('../../queue/stage-flow.js');
  const { openQueueEvents, redisConnection, shownUrl } = await import('../../queue/redis.js');
  const { processStageJobInChild, processWaitJob } = await import('../queue-worker.js');
  const { Queue, Worker, WaitingError } = await import('bullmq');
  const { hostname } = await import('node:os');
  const connection = redisConnection(url);
  const where = shownUrl(url);
  const name = `${hostname()}:${process.pid}`;
  const abort = new AbortController();
  const say = (line: string) => process.stdout.write(`${line}\n`);

  // Jobs taken before a stop go back to the queue, for another worker.
  const handBack = async (job: { moveToWait(token?: string): Promise<unknown> }, token: string | undefined) => {
    await job.moveToWait(token);
    throw new WaitingError();
  };

  /** Stages being built: a stop waits for them to leave the store tidy before anything may cut it short. */
  const inFlight = new Set<Promise<unknown>>();
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
  const options = { connection, autorun: false, lockDuration: lockMs, stalledInterval: lockMs };
  const stageWorkers = queuesOf(labels).map(
    (queue) =>
      new Worker(
        queue,
        async (job, token) => {
          await slot();
          try {
            say(`building ${job.data?.stage?.id} (job ${job.id}${job.attemptsStarted > 1 ? `, attempt ${job.attemptsStarted}` : ''})`);
            const building = processStageJobInChild(job.data, {
              worker: name,
              labels,
              signal: abort.signal,
              attempt: job.attemptsStarted,
              progress: (update) => void job.updateProgress({ ...update, worker: name, host: hostname() }).catch(() => undefined),
            });
            inFlight.add(building);
            return await building.finally(() => inFlight.delete(building));
          } catch (error) {
            if (abort.signal.aborted) return handBack(job, token);
            throw error;
          } finally {
            release();
          }
        },
        { ...options, concurrency },
      ),
  );

  // Wait jobs only wait, so many at once; they watch stage jobs in whichever queue those are.
  const watched = new Map<string, Promise<{ queue: InstanceType<typeof Queue>; events: Awaited<ReturnType<typeof openQueueEvents>> }>>();
  const queueNamed = (queueName: string) => {
    let q = watched.get(queueName);
    if (!q) {
      const queue = new Queue(queueName, { connection });
      queue.on('error', () => undefined);
      q = openQueueEvents(queue, connection).then((events) => ({ queue, events }));
      watched.set(queueName, q);
    }
    return q;
  };
  const waitWorker = new Worker(
    WAIT_QUEUE,
    async (job, token) => {
      try {
        return await processWaitJob(job.data, queueNamed, abort.signal);
      } catch (error) {
        if (abort.signal.aborted) return handBack(job, token);
        throw error;
      }
    },
    { ...options, concurrency: 100 },
  );
  const workers = [...stageWorkers, waitWorker];

  // A Redis that goes away is said once, and its return once; BullMQ reconnects by itself.
  let down = false;
  let everReady = false;
  for (const w of workers) {
    w.on('error', (err) => {
      if (!CONNECTION_FAULT.test(`${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`)) {
        process.stderr.write(`pipe worker: ${err.message}\n`);
        return;
      }
      if (down) return;
      down = true;
      process.stderr.write(
        `pipe worker: lost the queue ${where} (${err.message}); reconnecting, and a stage being built goes on` +
          `${everReady ? '' : ` (is Redis running there? start it, or give --queue the right address)`}\n`,
      );
    });
    w.on('ready', () => {
      if (down) say(`queue ${where} is back`);
      down = false;
    });
    w.on('completed', (job) => say(`done ${job.data?.stage?.id ?? job.name} (${job.returnvalue?.status ?? 'waited'})`));
    w.on('failed', (job, err) => {
      if (!(err instanceof WaitingError)) say(`failed ${job?.data?.stage?.id ?? job?.name}: ${err.message.split('\n')[0]}`);
    });
  }
  let stopping: Promise<unknown> | undefined;
  const stop = () => {
    if (stopping) return;
    say('stopping: handing back what this worker holds');
    abort.abort();
    stopping = (async () => {
      await Promise.allSettled(inFlight);
      // Handing back needs Redis: without it, exit once the stages have cleaned up after themselves.
      const closed = Promise.all(workers.map((w) => w.close()));
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, down ? 0 : STOP_TIMEOUT_MS, 'timeout').unref());
      if ((await Promise.race([closed, timeout])) === 'timeout') {
        process.stderr.write(`pipe worker: the queue ${where} does not answer; exiting without handing back (once it is back, its stalled-job check hands the job to another worker)\n`);
        process.exit(1);
      }
    })();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  everReady = true;
  const signed = queueKey() === undefined ? 'any job' : 'jobs signed with PIPE_QUEUE_KEY only';
  say(`worker ${name} ready: ${where} ${labels.length ? `labels ${labels.join(', ')}` : 'no labels'}, ${concurrency} at a time, ${signed}`);
  await Promise.all(workers.map((w) => w.run()));
  await stopping;
  await Promise.all([...watched.values()].map(async (q) => Promise.all([(await q).queue.close(), (await q).events.close()])));
  return 0;
}
