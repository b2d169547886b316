// Where the artifact store lives, in order: `--cache <dir>`, $PIPE_ARTIFACTS (so CI can point every pipeline
// at one restored cache), the pipeline's own `cache:` setting (already absolute), else ./artifacts. Relative
// paths resolve against the working directory.
import { resolve } from 'node:path';

export function resolveStoreRoot(
  flag?: string,
  pipelineCache?: string,
  cwd: string = process.cwd(),
  env: NodeJS.ProcessEnv = process.env,
): string {
  if (flag) return resolve(cwd, flag);
  if (env.PIPE_ARTIFACTS) return resolve(cwd, env.PIPE_ARTIFACTS);
  return pipelineCache ?? resolve(cwd, 'artifacts');
}
