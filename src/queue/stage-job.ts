// A stage job on the queue: which stage of which pipeline to build into the artifact cache. It carries ids,
// the pipeline's content and keys, never code: a worker runs only the stage modules of its own checkout, and
// refuses a job whose pipeline file or stage code differs from that checkout (checkJob). Artifacts never travel
// in a job; the worker reads inputs from and writes outputs to the artifact cache.
import { PipeError } from '../errors.js';
import type { Plan } from '../plan/plan.js';
import { pipelineKey } from '../plan/plan-document.js';

export const JOB_FORMAT = 'pipe-job/1';

export interface StageJob {
  format: typeof JOB_FORMAT;
  pipeline: {
    /** The pipeline file relative to the checkout's root (the worker's working directory). */
    file: string;
    /** The file's content, and its SHA-256 (pipelineKey). */
    content: string;
    key: string;
    /** --set texts (the run's, then a sweep variant's). */
    sets: string[];
    /** --backend, when the submitter gave one (it is part of the keys). */
    backend?: string;
  };
  stage: {
    id: string;
    /** The cache key the submitter planned: the worker must plan the same. */
    key: string;
    /** Hash of the stage's module and the local modules it imports, as planned by the submitter. */
    code: string;
    /** Labels a worker needs to take the job. */
    runsOn: string[];
    /** Build it even when cached (--force): from scratch, its checkpoints cleared. */
    force?: boolean;
  };
}

/** What a worker tells the submitter while it builds a stage (BullMQ job progress). */
export interface StageJobProgress {
  /** host:pid of the worker. */
  worker: string;
  host: string;
  /** The stage's progress line. */
  message?: string;
  /** A line worth keeping (an epoch's results, a resumed checkpoint, a restart). */
  note?: string;
  warning?: string;
}

/** What a worker answers for a job it built (or found in the cache). */
export interface StageJobResult {
  status: 'ran' | 'cached';
  key: string;
  seconds: number;
  host: string;
  worker: string;
}

export function stageJob(
  pipeline: { file: string; content: string; sets: string[]; backend?: string },
  plan: Plan,
  id: string,
  options: { runsOn: string[]; force?: boolean },
): StageJob {
  const s = plan.stages[id];
  const { file, content, sets, backend } = pipeline;
  return {
    format: JOB_FORMAT,
    pipeline: { file, content, key: pipelineKey(content), sets, ...(backend ? { backend } : {}) },
    stage: { id, key: s.key, code: s.keyParts.code, runsOn: [...options.runsOn].sort(), ...(options.force ? { force: true } : {}) },
  };
}

const QUEUE_PREFIX = 'pipe-stages';
const LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The queue a job with these labels goes to: one per label set, so only workers with every label read it. */
export function queueFor(runsOn: string[]): string {
  const labels = [...new Set(runsOn)].sort();
  return labels.length ? `${QUEUE_PREFIX}-${labels.join('+')}` : QUEUE_PREFIX;
}

/** Every queue a worker with these labels reads: one per subset of its labels (the empty set included). */
export function queuesOf(labels: string[]): string[] {
  const unique = [...new Set(labels)].sort();
  for (const label of unique) {
    if (!LABEL.test(label)) throw new PipeError(`--labels: '${label}' is not a label`, { hint: 'labels are words: letters, digits, . _ - (e.g. gpu,big-mem)' });
  }
  if (unique.length > 6) throw new PipeError(`--labels: at most 6 labels, got ${unique.length}`, { hint: 'a worker reads one queue per subset of its labels' });
  const subsets: string[][] = [[]];
  for (const label of unique) subsets.push(...subsets.map((s) => [...s, label]));
  return subsets.map(queueFor);
}

/** Throws when the job is malformed or was planned from another pipeline file than `localContent`. */
export function checkJobPipeline(job: unknown, localContent: string | undefined): StageJob {
  const j = job as Partial<StageJob>;
  if (j?.format !== JOB_FORMAT || typeof j.pipeline?.file !== 'string' || typeof j.pipeline.key !== 'string' || typeof j.stage?.id !== 'string') {
    throw new PipeError(`not a ${JOB_FORMAT} job`, { hint: 'the submitter and this worker must run the same version of pipe' });
  }
  const file = j.pipeline.file;
  if (file.startsWith('/') || file.split(/[\\/]/).includes('..')) {
    throw new PipeError(`refused: the job's pipeline file '${file}' is outside this checkout`);
  }
  if (typeof j.pipeline.content !== 'string' || pipelineKey(j.pipeline.content) !== j.pipeline.key) {
    throw new PipeError("refused: the job's pipeline content does not match its key");
  }
  if (localContent === undefined) throw new PipeError(`refused: this checkout has no ${file}`, { hint: 'run the worker in a checkout of the same commit' });
  if (pipelineKey(localContent) !== j.pipeline.key) {
    throw new PipeError(`refused: ${file} in this checkout differs from the job's (pipeline key ${j.pipeline.key.slice(0, 12)})`, {
      hint: 'run the worker in a checkout of the same commit as the submitter',
    });
  }
  return j as StageJob;
}

/** Throws when this checkout plans the job's stage differently (other stage code, params, inputs or runtime). */
export function checkJobStage(job: StageJob, plan: Plan): void {
  const s = plan.stages[job.stage.id];
  if (!s) throw new PipeError(`refused: no stage '${job.stage.id}' in ${job.pipeline.file}`);
  if (s.keyParts.code !== job.stage.code) {
    throw new PipeError(`refused: the code of stage '${job.stage.id}' (${s.uses}) in this checkout differs from the submitter's`, {
      hint: 'run the worker in a checkout of the same commit as the submitter',
    });
  }
  if (s.key !== job.stage.key) {
    throw new PipeError(`refused: stage '${job.stage.id}' has another cache key here (${s.key.slice(0, 12)}) than in the job (${job.stage.key.slice(0, 12)})`, {
      hint: 'the worker plans with its own stage code, backend and kernels: they must match the submitter',
    });
  }
}

const HINT = '\nhint: ';

/** A stage's error as a job's failure reason (BullMQ keeps a message): its text, then its hint if it has one. */
export function failureReason(error: unknown): string {
  if (error instanceof PipeError) return error.hint ? `${error.message}${HINT}${error.hint}` : error.message;
  return error instanceof Error ? error.message : String(error);
}

/** The error a job's failure reason stands for, as the stage raised it (a run's failure, exit code 1). */
export function failureError(reason: string): PipeError {
  const at = reason.indexOf(HINT);
  return at < 0 ? new PipeError(reason, { exitCode: 1 }) : new PipeError(reason.slice(0, at), { exitCode: 1, hint: reason.slice(at + HINT.length) });
}
