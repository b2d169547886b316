// Where the artifact store lives: `--cache <dir>`, else $PIPE_ARTIFACTS, else ./artifacts (relative paths
// resolve against the working directory).
import { resolve } from 'node:path';

export function resolveStoreRoot(flag: string | undefined, cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  return resolve(cwd, flag || env.PIPE_ARTIFACTS || 'artifacts');
}
