// `pipe worker`: a queue worker. It takes stage jobs from a BullMQ queue on Redis and builds each into the
// artifact cache exactly as a local run would (buildIntoCache), after checking the job was planned from this
// checkout's pipeline file and stage code (src/exec/bullmq/). Inputs come from the artifact cache, outputs go
// to it; nothing but ids and keys comes back.
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

  const { runQueueWorker } = await import('../../exec/bullmq/queue-worker.js');
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const complain = (line: string) => process.stderr.write(`pipe worker: ${line}\n`);
  await runQueueWorker(
    { url, labels, concurrency },
    {
      ready: (w) =>
        say(
          `worker ${w.name} ready: ${w.where} ${w.labels.length ? `labels ${w.labels.join(', ')}` : 'no labels'}, ${w.concurrency} at a time, ` +
            `${w.signedOnly ? 'jobs signed with PIPE_QUEUE_KEY only' : 'any job'}`,
        ),
      building: (job) => say(`building ${job.stage} (job ${job.id}${job.attempt > 1 ? `, attempt ${job.attempt}` : ''})`),
      done: (what, status) => say(`done ${what} (${status})`),
      failed: (what, message) => say(`failed ${what}: ${message.split('\n')[0]}`),
      error: (message) => complain(message),
      lost: (where, message, everReady) =>
        complain(
          `lost the queue ${where} (${message}); reconnecting, and a stage being built goes on` +
            `${everReady ? '' : ` (is Redis running there? start it, or give --queue the right address)`}`,
        ),
      back: (where) => say(`queue ${where} is back`),
      stopping: () => say('stopping: handing back what this worker holds'),
      noAnswer: (where) =>
        complain(`the queue ${where} does not answer; exiting without handing back (once it is back, its stalled-job check hands the job to another worker)`),
    },
  );
  return 0;
}
