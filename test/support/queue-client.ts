// Jobs added to a real Redis with BullMQ as a submitter adds them, and their ends waited for by queue events.
import { Queue, type QueueEvents } from 'bullmq';
import { jobEnd, openQueueEvents, redisConnection } from '../../src/exec/bullmq/redis.js';
import { queueFor, type StageJob } from '../../src/exec/bullmq/job.js';

export interface QueueClient {
  /** The queue and its events, listening from before anything is added (so no job's end can pass unheard). */
  queueNamed(name: string): Promise<{ queue: Queue; events: QueueEvents }>;
  /** Add a stage job to the queue of its runs-on labels; resolves to the worker's answer, rejects with the failure reason. */
  submit(job: StageJob): Promise<{ status: string; key: string; labels: string[] }>;
  close(): Promise<void>;
}

export function queueClient(url: string): QueueClient {
  const opened = new Map<string, Promise<{ queue: Queue; events: QueueEvents }>>();
  const queueNamed = (name: string) => {
    let q = opened.get(name);
    if (!q) {
      const queue = new Queue(name, { connection: redisConnection(url) });
      q = openQueueEvents(queue, redisConnection(url)).then((events) => ({ queue, events }));
      opened.set(name, q);
    }
    return q;
  };
  return {
    queueNamed,
    async submit(job) {
      const { queue, events } = await queueNamed(queueFor(job.stage.runsOn));
      const added = await queue.add(job.stage.id, job, { attempts: 1 });
      const end = await jobEnd(queue, events, added.id!);
      if (end.state === 'completed') return end.value as { status: string; key: string; labels: string[] };
      throw new Error(end.state === 'failed' ? end.reason : 'job removed');
    },
    async close() {
      await Promise.all([...opened.values()].map(async (q) => Promise.all([(await q).queue.close(), (await q).events.close()])));
    },
  };
}
