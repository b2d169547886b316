// The record of one `pipe run`, written to <store>/runs/<id>/run.json (with the run's JSON log beside it as
// log.jsonl). `pipe runs`, `pipe status`, `pipe compare` and reports read these. Fields added since the first
// records are optional, so older records stay readable.

export type StageRunStatus = 'cached' | 'ran' | 'failed' | 'skipped' | 'interrupted';

export interface StageRecord {
  uses: string;
  /** Cache key (hex) of the stage instance. */
  key: string;
  status: StageRunStatus;
  /** Wall time of run() when it ran; 0 when cached. */
  seconds: number;
  /** Resolved params (defaults applied). */
  params: Record<string, unknown>;
  /** input name -> upstream stage id */
  inputs: Record<string, string>;
  /** output name -> path of the output relative to the store root (e.g. "entries/ab/abcd.../out/metrics.json"). */
  outputs: Record<string, string>;
  /** 'remote' when a cached stage came from the remote cache into the local store during this run. */
  cachedFrom?: 'remote';
  /** The host of the queue worker that built the stage (or found it cached), in runs with --queue. */
  worker?: string;
  /** What run() returned (or the cached entry's stored summary). */
  summary?: Record<string, unknown>;
  /** Failure message when status is failed, or why it was skipped. */
  error?: string;
  /** What the cache key was made of (see src/plan/plan.ts KeyParts), for `pipe status` explanations. */
  keyParts?: Record<string, unknown>;
  /** Path params as written (location -> path), for messages. */
  filePaths?: Record<string, string>;
}

export interface RunNote {
  /** ISO time the note was added. */
  at: string;
  text: string;
}

export interface RunRecord {
  /** Sortable id: ISO time plus a short random suffix, e.g. 2026-11-24T10-46-46-123Z-3fa9. */
  id: string;
  pipeline: {
    name: string;
    /** Path of the pipeline file relative to the working directory the run started in. */
    file: string;
    /**
     * Path of the pipeline file relative to the store root: names the file exactly wherever the run started,
     * so `pipe compare <file>` finds this file's runs and not those of another file with the same `name:`.
     */
    path?: string;
  };
  /** Set when the run is one variant of a sweep (see src/config/sweep.ts). */
  sweep?: {
    /** Shared by the runs one `pipe run` of a sweep started; absent when the variant was run on its own. */
    id?: string;
    variant: string;
    /** The --set texts that make the variant. */
    sets: string[];
    /** The run that built the stages the variants share (before the variants run). */
    shared?: boolean;
  };
  /** `pipe run --name`: what the person who started it called it (a sweep's variants share the sweep's name). */
  name?: string;
  /** `pipe run --tag` (repeatable), without repeats. */
  tags?: string[];
  /** `pipe runs note`: notes added after the run, oldest first. */
  notes?: RunNote[];
  /** The git checkout that holds the pipeline file: its HEAD and whether tracked files had changes. Absent outside one. */
  git?: { commit: string; dirty: boolean };
  /** The name of the host it ran on (owner.host is a tag of it). */
  host?: string;
  /** The version of pipe that ran it. */
  pipeVersion?: string;
  startedAt: string;
  finishedAt?: string;
  /**
   * 'running' while the run lasts; a reader shows a 'running' record whose process is gone (killed before it
   * could record its end) as 'interrupted' (src/runs/read.ts).
   */
  status: 'ok' | 'failed' | 'interrupted' | 'running';
  /** The process that runs it: pid and the tag of its host (src/owner.ts). */
  owner?: { pid: number; host: string };
  seed: number;
  /** Backend requested ('auto', ...) and, for stages that use TensorFlow.js, the one it resolved to. */
  backend: { requested: string; resolved: string };
  /** CLI arguments after `pipe run`. */
  argv: string[];
  /** In pipeline order (topological). */
  stages: Record<string, StageRecord>;
  /** Headline metrics and every gate-able number, read after the run (src/report/run-metrics.ts). */
  metrics?: {
    headline?: { stage: string; split: string; accuracy?: number; balancedAccuracy?: number; macroF1?: number; loss?: number };
    leakage?: { leaky: boolean; headline: string };
    values: Record<string, number>;
  };
  /** CI gates checked after the run, each with the value it saw; `failed` when its condition held. */
  gates?: Array<{
    text: string;
    metric?: string;
    from: string;
    value?: number;
    /** For a gate against a baseline: the baseline run and its value of the metric. */
    baseline?: { run: string; value: number };
    failed: boolean;
    error?: string;
  }>;
}
