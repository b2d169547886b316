// A stage job on the queue: which stage of which pipeline to build into the artifact cache. It carries ids,
// the pipeline's content and keys, never code: a worker runs only built-in stages and the stage modules of its
// own checkout, and refuses a job whose pipeline file or stage code differs from that checkout. Redis is not
// trusted: whoever can write to it can add jobs, so every field of a job is checked before it is used (the
// checks below, in the order a worker makes them), and with a queue key (PIPE_QUEUE_KEY) only jobs signed with
// it are served. Artifacts never travel in a job; the worker reads inputs from and writes outputs to the
// artifact cache.
import { existsSync } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PipeError } from '../../errors.js';
import { BACKENDS } from '../../config/core-schema.js';
import { setsStore } from '../../config/overrides.js';
import { BUILTIN_STAGES_DIR } from '../../config/stage-loader.js';
import type { StageModule } from '../../config/types.js';
import { canonicalJson } from '../../plan/canonical-json.js';
import { moduleTreeHash } from '../../plan/code-hash.js';
import type { Plan } from '../../plan/plan.js';
import { pipelineKey } from '../../plan/plan-document.js';
import { plainPathProblem, realPathInside } from '../../plain-path.js';
import { hmacMatches, hmacSha256 } from '../../store/hash.js';

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
  /** HMAC-SHA256 of the rest of the job (signedText) under the submitter's PIPE_QUEUE_KEY, when it has one. */
  signature?: string;
}

/** The key that signs jobs (submitter) and that jobs must be signed with (worker); none when unset. */
export function queueKey(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.PIPE_QUEUE_KEY || undefined;
}

/** What a signature covers: every field a worker reads. */
function signedText(job: Omit<StageJob, 'signature'>): string {
  return canonicalJson({ format: job.format, pipeline: job.pipeline, stage: job.stage });
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

/** A job's result as the worker process returns it to BullMQ: with the labels of the worker that built it. */
export type StageJobAnswer = StageJobResult & { labels: string[] };

/** Progress from where the stage is built: the worker adds who it is (StageJobProgress). */
export type StageJobUpdate = Omit<StageJobProgress, 'worker' | 'host'>;

// A queue worker builds each stage job in a child process of its own (stage-job-child.ts), over an IPC channel:
//   worker → child: one StageJobRequest      child → worker: { progress } … then { result } | { failure } | { handedBack }

/** What the worker sends the child it forks for a job. */
export interface StageJobRequest {
  job: unknown;
  worker: string;
  labels: string[];
  attempt: number;
}

/** What the child sends back: progress any number of times, then one answer. */
export type StageJobMessage = { progress: StageJobUpdate } | { result: StageJobAnswer } | { failure: string } | { handedBack: true };

export function stageJob(
  pipeline: { file: string; content: string; sets: string[]; backend?: string },
  plan: Plan,
  id: string,
  options: { runsOn: string[]; force?: boolean; key?: string },
): StageJob {
  const s = plan.stages[id];
  const { file, content, sets, backend } = pipeline;
  const job: StageJob = {
    format: JOB_FORMAT,
    // Where the submitter keeps its artifacts is its own business: a worker keeps them where it is told to.
    pipeline: { file, content, key: pipelineKey(content), sets: sets.filter((text) => !setsStore(text)), ...(backend ? { backend } : {}) },
    stage: { id, key: s.key, code: s.keyParts.code, runsOn: [...options.runsOn].sort(), ...(options.force ? { force: true } : {}) },
  };
  return options.key === undefined ? job : { ...job, signature: hmacSha256(options.key, signedText(job)) };
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

const SAME_COMMIT = 'run the worker in a checkout of the same commit as the submitter';

/**
 * The job, when it is well formed, signed with `key` (when the worker has one), and asks for nothing a worker
 * keeps to itself: a pipeline file outside the checkout, or where artifacts are kept (`--set cache=…`).
 */
export function checkJob(data: unknown, key: string | undefined): StageJob {
  const j = data as Partial<StageJob>;
  const strings = (list: unknown) => Array.isArray(list) && list.every((t) => typeof t === 'string');
  const ok =
    j?.format === JOB_FORMAT &&
    typeof j.pipeline?.file === 'string' &&
    typeof j.pipeline.key === 'string' &&
    strings(j.pipeline.sets) &&
    (j.pipeline.backend === undefined || (BACKENDS as readonly unknown[]).includes(j.pipeline.backend)) &&
    typeof j.stage?.id === 'string' &&
    typeof j.stage.key === 'string' &&
    typeof j.stage.code === 'string' &&
    strings(j.stage.runsOn) &&
    (j.stage.force === undefined || typeof j.stage.force === 'boolean') &&
    (j.signature === undefined || typeof j.signature === 'string');
  if (!ok) throw new PipeError(`not a ${JOB_FORMAT} job`, { hint: 'the submitter and this worker must run the same version of pipe' });
  const job = j as StageJob;
  if (key !== undefined) {
    if (job.signature === undefined) {
      throw new PipeError('refused: the job is not signed, and this worker serves only jobs signed with its queue key (PIPE_QUEUE_KEY)', {
        hint: 'set PIPE_QUEUE_KEY to the same secret where the run is started',
      });
    }
    if (!hmacMatches(key, signedText(job), job.signature)) {
      throw new PipeError("refused: the job's signature does not match this worker's queue key (PIPE_QUEUE_KEY)", {
        hint: 'the submitter and the workers need the same PIPE_QUEUE_KEY',
      });
    }
  }
  const file = job.pipeline.file;
  if (plainPathProblem(file) !== undefined) {
    throw new PipeError(`refused: the job's pipeline file '${file}' is outside this checkout`);
  }
  const store = job.pipeline.sets.find(setsStore);
  if (store !== undefined) {
    throw new PipeError(`refused: the job's --set ${store} says where to keep artifacts, which a worker takes only from its own settings`, {
      hint: "set the worker's store and remote cache where it runs (PIPE_ARTIFACTS, PIPE_REMOTE_CACHE), not in a job",
    });
  }
  return job;
}

/** Throws when the job was planned from another pipeline file than the one at its path in the checkout `root`. */
export async function checkJobPipeline(job: StageJob, root: string): Promise<void> {
  const file = job.pipeline.file;
  if (typeof job.pipeline.content !== 'string' || pipelineKey(job.pipeline.content) !== job.pipeline.key) {
    throw new PipeError("refused: the job's pipeline content does not match its key");
  }
  const path = resolve(root, file);
  const real = await realPathInside(root, path);
  if (real === undefined && existsSync(path)) throw new PipeError(`refused: the job's pipeline file '${file}' leads outside this checkout (a symbolic link)`);
  const localContent = real === undefined ? undefined : await readFile(real, 'utf8').catch(() => undefined);
  if (localContent === undefined) throw new PipeError(`refused: this checkout has no ${file}`, { hint: 'run the worker in a checkout of the same commit' });
  if (pipelineKey(localContent) !== job.pipeline.key) {
    throw new PipeError(`refused: ${file} in this checkout differs from the job's (pipeline key ${job.pipeline.key.slice(0, 12)})`, { hint: SAME_COMMIT });
  }
}

/**
 * Vets the stage modules the job's pipeline names (`--set` applied) before any is imported, since importing
 * runs a module's top-level code: each is a built-in stage or a file inside the checkout `root`, symbolic links
 * resolved; and the job's own stage hashes as the submitter's did.
 */
export async function checkJobModules(job: StageJob, modules: Readonly<Record<string, StageModule>>, root: string): Promise<void> {
  for (const [id, { uses, modulePath }] of Object.entries(modules)) {
    if ((await realPathInside(BUILTIN_STAGES_DIR, modulePath)) !== undefined) continue;
    if ((await realPathInside(root, modulePath)) === undefined) {
      const real = await realpath(modulePath).catch(() => modulePath);
      throw new PipeError(`refused: stage '${id}' of the job uses ${uses}${real === modulePath ? '' : ` (${real})`}, which is outside this checkout`, {
        hint: 'a worker runs only built-in stages and stage modules inside its own checkout (symbolic links followed)',
      });
    }
  }
  if (!Object.hasOwn(modules, job.stage.id)) throw new PipeError(`refused: no stage '${job.stage.id}' in ${job.pipeline.file}`);
  const own = modules[job.stage.id];
  if ((await moduleTreeHash(own.modulePath)) !== job.stage.code) throw codeDiffers(job, own.uses);
}

function codeDiffers(job: StageJob, uses: string): PipeError {
  return new PipeError(`refused: the code of stage '${job.stage.id}' (${uses}) in this checkout differs from the submitter's`, { hint: SAME_COMMIT });
}

/** Throws when this checkout plans the job's stage differently (other stage code, params, inputs or runtime). */
export function checkJobStage(job: StageJob, plan: Plan): void {
  const s = plan.stages[job.stage.id];
  if (!s) throw new PipeError(`refused: no stage '${job.stage.id}' in ${job.pipeline.file}`);
  if (s.keyParts.code !== job.stage.code) throw codeDiffers(job, s.uses);
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
