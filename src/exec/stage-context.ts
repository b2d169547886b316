// The one way a stage's context is built: by the executor for every run, and by tests that run one stage
// module on its own (harness/stage-harness.ts).
import { isAbsolute, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { InputArtifact, PipelineInfo, Stage, StageContext } from '../stage.js';

export interface StageContextOptions {
  id: string;
  stage: Stage;
  /** Validated params with defaults; the stage gets its own copy. */
  params: Record<string, unknown>;
  inputs: Record<string, InputArtifact>;
  /** The (temporary) folder the stage writes its outputs into. */
  outDir: string;
  scratchDir: string;
  /** Folder relative paths in params resolve against (the pipeline file's). */
  baseDir: string;
  seed: number;
  backend: StageContext['backend'];
  log: Logger;
  onProgress(message: string): void;
  /** Lines worth keeping (progress.note): epoch results, a resumed checkpoint. */
  onNote?(message: string): void;
  signal: AbortSignal;
  pipeline: PipelineInfo;
}

export function buildStageContext(o: StageContextOptions): StageContext {
  return {
    id: o.id,
    params: structuredClone(o.params),
    inputs: o.inputs,
    output(name) {
      const spec = o.stage.outputs[name];
      if (!spec) throw new Error(`stage '${o.stage.name}' declares no output '${name}' (it has: ${Object.keys(o.stage.outputs).join(', ')})`);
      return join(o.outDir, spec.file);
    },
    outDir: o.outDir,
    scratchDir: o.scratchDir,
    resolvePath: (p) => (isAbsolute(p) ? p : resolve(o.baseDir, p)),
    seed: o.seed,
    backend: o.backend,
    log: o.log,
    progress: { update: (message) => o.onProgress(message), note: (message) => o.onNote?.(message) },
    signal: o.signal,
    pipeline: o.pipeline,
  };
}

/** An upstream output as a stage sees it: the output's own path and its stage's whole folder. */
export function inputArtifact(upstreamDir: string, upstream: { id: string; stage: Stage }, output: string): InputArtifact {
  return { path: join(upstreamDir, upstream.stage.outputs[output].file), stage: upstream.id, output, dir: upstreamDir };
}
