// Runs one stage in this process through the test harness, for tests that need a stage in a child process
// (to kill it mid-run). Usage: node run-stage-child.js <job.json>, where job.json holds
// { stage: <module path>, params, inputs, scratchDir, backend, seed, resultFile }. Progress lines are printed
// as they happen; the harness result is written to resultFile when the stage finishes.
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { runStage } from '../../harness/stage-harness.js';
import type { Stage } from '../../src/stage.js';
import type { BackendName } from '../../src/tf/backend.js';

interface Job {
  stage: string;
  params: Record<string, unknown>;
  inputs: Record<string, string>;
  scratchDir: string;
  backend: BackendName;
  seed: number;
  resultFile: string;
}

const job = JSON.parse(await readFile(process.argv[2], 'utf8')) as Job;
const stage = (await import(pathToFileURL(job.stage).href)).default as Stage;
const result = await runStage(stage, {
  params: job.params,
  inputs: job.inputs,
  scratchDir: job.scratchDir,
  backend: job.backend,
  seed: job.seed,
});
await writeFile(job.resultFile, JSON.stringify(result));
