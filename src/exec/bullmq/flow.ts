// The stale stages of one run as one BullMQ flow, so a stage job is taken only once the stages it reads are done.
//
// A flow is a tree (a job has one parent, and a parent waits for all its children) while a pipeline is a DAG: a
// stage read by several stale stages can be the child of only one of them. The mapping:
//   - each stale stage's parent is the first stale stage (in plan order) that reads it; a stage no stale stage
//     reads hangs under the root, a wait job standing for the whole run;
//   - every other stale stage that reads it gets one extra child, a wait job naming the stages it reads through
//     such edges, which a worker completes once those jobs have completed (and fails when one fails).
// Every edge is then either a parent/child link or a wait, so no stage starts before its inputs exist, and stages
// that do not depend on each other still run at once on different workers (turning each diamond into a chain
// would serialise, say, two training stages that share a model). Parents are later in plan order than their
// children and a wait only names earlier stages, so nothing waits on itself. Each job fails its parent when it
// fails, so a failure reaches everything downstream and the root.
import type { FlowJob } from 'bullmq';
import { PipeError } from '../../errors.js';
import type { StageJob } from './job.js';

export const WAIT_FORMAT = 'pipe-wait/1';
/** The queue of wait jobs; every `pipe worker` reads it besides its stage queues. */
export const WAIT_QUEUE = 'pipe-waits';

/** A job done once other jobs of its flow are done; the run's root (no stages) is one too. */
export interface WaitJob {
  format: typeof WAIT_FORMAT;
  run: string;
  /** The stage whose job this one is a child of (absent for the root). */
  stage?: string;
  waitsFor: { stage: string; queue: string; jobId: string }[];
}

/** How long finished jobs stay in Redis (for tools that show them): a day, failed ones a week. */
const KEEP = { removeOnComplete: { age: 24 * 3600 }, removeOnFail: { age: 7 * 24 * 3600 } };

export function stageJobId(run: string, stage: string): string {
  return `${run}.${stage}`;
}

export interface StageFlow {
  root: FlowJob;
  /** Stage id -> where its job is. */
  jobs: Map<string, { queue: string; jobId: string }>;
  /** Every job of the flow, parents before their children (the order to remove unstarted ones in). */
  topDown: { queue: string; jobId: string }[];
}

/**
 * The flow for the stages in `stale` (a subset of `order`, the plan's topological order). `upstream` gives a
 * stage's inputs; `job` its queue and data. Upstream stages outside `stale` are in the cache already.
 */
export function stageFlow(
  run: string,
  order: string[],
  stale: Set<string>,
  upstream: (id: string) => string[],
  job: (id: string) => { queue: string; data: StageJob },
): StageFlow {
  const ids = order.filter((id) => stale.has(id));
  const readers = new Map(ids.map((id) => [id, [] as string[]]));
  for (const id of ids) for (const u of upstream(id)) readers.get(u)?.push(id);
  const node = (name: string, queueName: string, jobId: string, data: StageJob | WaitJob): FlowJob => ({
    name,
    queueName,
    data,
    opts: { jobId, failParentOnFailure: true, ...KEEP },
    children: [],
  });
  const root = node('run', WAIT_QUEUE, run, { format: WAIT_FORMAT, run, waitsFor: [] } satisfies WaitJob);
  const nodes = new Map<string, FlowJob>();
  const jobs = new Map<string, { queue: string; jobId: string }>();
  for (const id of ids) {
    const { queue, data } = job(id);
    jobs.set(id, { queue, jobId: stageJobId(run, id) });
    nodes.set(id, node(id, queue, stageJobId(run, id), data));
  }
  for (const id of ids) {
    const parent = readers.get(id)![0];
    (parent === undefined ? root : nodes.get(parent)!).children!.push(nodes.get(id)!);
  }
  for (const id of ids) {
    const waited = upstream(id).filter((u) => stale.has(u) && readers.get(u)![0] !== id);
    if (waited.length === 0) continue;
    const data: WaitJob = { format: WAIT_FORMAT, run, stage: id, waitsFor: waited.map((u) => ({ stage: u, ...jobs.get(u)! })) };
    nodes.get(id)!.children!.push(node(`${id} waits`, WAIT_QUEUE, `${stageJobId(run, id)}.waits`, data));
  }
  const topDown: StageFlow['topDown'] = [];
  const walk = (n: FlowJob) => {
    topDown.push({ queue: n.queueName, jobId: n.opts!.jobId! });
    for (const child of n.children ?? []) walk(child);
  };
  walk(root);
  return { root, jobs, topDown };
}

const QUEUE_NAME = /^pipe-stages(-[A-Za-z0-9._+-]+)?$/;

/** Throws unless `data` is a well-formed wait job naming stage jobs. */
export function checkWaitJob(data: unknown): WaitJob {
  const w = data as Partial<WaitJob>;
  const ok =
    w?.format === WAIT_FORMAT &&
    typeof w.run === 'string' &&
    Array.isArray(w.waitsFor) &&
    w.waitsFor.every((t) => typeof t?.stage === 'string' && typeof t.jobId === 'string' && typeof t.queue === 'string' && QUEUE_NAME.test(t.queue));
  if (!ok) throw new PipeError(`not a ${WAIT_FORMAT} job`, { hint: 'the submitter and this worker must run the same version of pipe' });
  return w as WaitJob;
}
