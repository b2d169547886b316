// Runs one stage module for real, outside the runner: params validated and defaulted by its own schema
// (as the runner does), fresh output and scratch directories, a silent logger and recorded progress lines.
import { mkdtemp, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { pino } from 'pino';
import type { InputArtifact, Stage, StageContext, StageSummary } from '../../src/stage.js';

export interface HarnessOptions {
  params?: Record<string, unknown>;
  /** input name -> path of the upstream output (file or folder) */
  inputs?: Record<string, string>;
  seed?: number;
  backend?: string;
  /** Folder that relative paths in params resolve against; defaults to the process cwd. */
  baseDir?: string;
  signal?: AbortSignal;
  /** Reuse a scratch directory (to test resuming). */
  scratchDir?: string;
}

export interface HarnessResult {
  summary: StageSummary;
  outDir: string;
  scratchDir: string;
  /** Absolute path of each declared output. */
  outputs: Record<string, string>;
  progress: string[];
  params: Record<string, unknown>;
}

export async function runStage(stage: Stage, options: HarnessOptions = {}): Promise<HarnessResult> {
  const ajv = new Ajv({ useDefaults: true, allErrors: true, strict: false });
  const params = structuredClone(options.params ?? {});
  const validate = ajv.compile(stage.params);
  if (!validate(params)) {
    throw new Error(`params of ${stage.name} invalid: ${ajv.errorsText(validate.errors)}`);
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
  const baseDir = options.baseDir ?? process.cwd();
  const ctx: StageContext = {
    id: stage.name,
    params,
    inputs,
    output(name) {
      const path = outputs[name];
      if (!path) throw new Error(`${stage.name} declares no output '${name}'`);
      return path;
    },
    outDir,
    scratchDir,
    resolvePath: (p) => resolve(baseDir, p),
    seed: options.seed ?? 1,
    backend: options.backend ?? 'auto',
    log: pino({ level: 'silent' }),
    progress: { update: (m) => progress.push(m) },
    signal: options.signal ?? new AbortController().signal,
    run: { id: 'test', pipelineName: 'test', pipelineFile: 'test.yaml', startedAt: new Date(0).toISOString(), stages: {}, backend: { requested: 'auto', resolved: 'wasm' } },
  };
  const summary = await stage.run(ctx);
  return { summary, outDir, scratchDir, outputs, progress, params };
}
