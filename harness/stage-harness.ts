// Runs one stage module for real, outside the runner: params validated and defaulted by the runner's own
// validator, the context built by the runner's own function, fresh output and scratch directories, a silent
// logger and recorded progress lines.
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { validatorFor } from '../src/config/ajv.js';
import { buildStageContext } from '../src/exec/stage-context.js';
import type { InputArtifact, PipelineInfo, Stage, StageSummary } from '../src/stage.js';
import { resolveBackend, type BackendName } from '../src/tf/backend.js';

export interface HarnessOptions {
  params?: Record<string, unknown>;
  /** input name -> path of the upstream output (file or folder) */
  inputs?: Record<string, string>;
  seed?: number;
  backend?: BackendName;
  /** Folder that relative paths in params resolve against; defaults to the process cwd. */
  baseDir?: string;
  signal?: AbortSignal;
  /** Reuse a scratch directory (to test resuming). */
  scratchDir?: string;
  /** What the stage is told about its pipeline (default: a placeholder). */
  pipeline?: PipelineInfo;
}

export interface HarnessResult {
  summary: StageSummary;
  outDir: string;
  scratchDir: string;
  /** Absolute path of each declared output. */
  outputs: Record<string, string>;
  progress: string[];
  /** Lines the stage gave as notes (progress.note): epoch results, a resumed checkpoint. */
  notes: string[];
  params: Record<string, unknown>;
}

export async function runStage(stage: Stage, options: HarnessOptions = {}): Promise<HarnessResult> {
  const params = structuredClone(options.params ?? {});
  // The runner's own validator (defaults filled in as a run would).
  const validate = validatorFor(stage.params);
  if (!validate(params)) {
    throw new Error(`params of ${stage.name} invalid: ${JSON.stringify(validate.errors)}`);
  }
  const root = await mkdtemp(join(tmpdir(), `pipe-${stage.name}-`));
  const outDir = join(root, 'out');
  const scratchDir = options.scratchDir ?? join(root, 'scratch');
  await mkdir(outDir, { recursive: true });
  await mkdir(scratchDir, { recursive: true });
  const inputs: Record<string, InputArtifact> = {};
  for (const [name, path] of Object.entries(options.inputs ?? {})) {
    inputs[name] = { path: resolve(path), stage: name, output: name, dir: resolve(path, '..') };
  }
  const outputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(stage.outputs)) outputs[name] = join(outDir, spec.file);
  const progress: string[] = [];
  const notes: string[] = [];
  const ctx = buildStageContext({
    id: stage.name,
    stage,
    params,
    inputs,
    outDir,
    scratchDir,
    baseDir: options.baseDir ?? process.cwd(),
    seed: options.seed ?? 1,
    backend: options.backend ?? resolveBackend('auto'),
    log: pino({ level: 'silent' }),
    onProgress: (m) => progress.push(m),
    onNote: (m) => notes.push(m),
    signal: options.signal ?? new AbortController().signal,
    pipeline: options.pipeline ?? { name: 'test', backend: { requested: 'auto', resolved: 'wasm' }, upstream: {} },
  });
  const summary = await stage.run(ctx);
  return { summary, outDir, scratchDir, outputs, progress, notes, params };
}
