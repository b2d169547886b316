// A throwaway project with a toy pipeline of four fast stages written as plain user stage modules:
//   source → scale → sum → report, plus a stage that sleeps per item (for interruption tests).
// Real files, real CLI: tests run `node bin/pipe.js` against it as a child process.
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const PIPE_BIN = join(REPO_ROOT, 'bin', 'pipe.js');

const stageModule = (name: string, version: string, body: string, inputs: string, outputs: string, params: string) => `
export default {
  name: '${name}',
  version: '${version}',
  description: 'toy stage ${name}',
  params: { type: 'object', additionalProperties: false, properties: ${params} },
  inputs: ${inputs},
  outputs: ${outputs},
  async run(ctx) {
    const fs = await import('node:fs/promises');
    ${body}
  },
};
`;

export const TOY_STAGES: Record<string, string> = {
  'source.mjs': stageModule(
    'toy-source',
    '1',
    `const n = ctx.params.n;
    const text = ctx.params.file ? await fs.readFile(ctx.resolvePath(ctx.params.file), 'utf8') : '';
    const numbers = Array.from({ length: n }, (_, i) => i + 1 + text.length);
    await fs.writeFile(ctx.output('numbers'), JSON.stringify(numbers));
    return { count: n };`,
    '{}',
    "{ numbers: { file: 'numbers.json', description: 'numbers' } }",
    "{ n: { type: 'integer', minimum: 1, default: 5, description: 'how many' }, file: { type: 'string', 'x-pipe-path': 'file', description: 'a file whose length offsets the numbers' } }",
  ),
  'scale.mjs': stageModule(
    'toy-scale',
    '1',
    `const numbers = JSON.parse(await fs.readFile(ctx.inputs.numbers.path, 'utf8'));
    for (let i = 0; i < numbers.length; i++) {
      if (ctx.params.delayMs) {
        ctx.progress.update('item ' + (i + 1) + '/' + numbers.length);
        await new Promise((r) => setTimeout(r, ctx.params.delayMs));
        if (ctx.signal.aborted) throw new Error('aborted');
      }
    }
    await fs.writeFile(ctx.output('numbers'), JSON.stringify(numbers.map((x) => x * ctx.params.factor)));`,
    "{ numbers: { description: 'numbers to scale' } }",
    "{ numbers: { file: 'numbers.json', description: 'scaled numbers' } }",
    "{ factor: { type: 'number', default: 2, description: 'multiplier' }, delayMs: { type: 'integer', default: 0, description: 'sleep per item' } }",
  ),
  'sum.mjs': stageModule(
    'toy-sum',
    '1',
    `const numbers = JSON.parse(await fs.readFile(ctx.inputs.numbers.path, 'utf8'));
    const sum = numbers.reduce((a, b) => a + b, 0);
    await fs.writeFile(ctx.output('sum'), JSON.stringify({ sum }));
    return { sum };`,
    "{ numbers: { description: 'numbers to add' } }",
    "{ sum: { file: 'sum.json', description: 'the sum' } }",
    '{}',
  ),
  'report.mjs': stageModule(
    'toy-report',
    '1',
    `const { sum } = JSON.parse(await fs.readFile(ctx.inputs.sum.path, 'utf8'));
    await fs.writeFile(ctx.output('text'), ctx.params.title + ': ' + sum + '\\n');`,
    "{ sum: { description: 'the sum' } }",
    "{ text: { file: 'report.txt', description: 'a line of text' } }",
    "{ title: { type: 'string', default: 'total', description: 'label' } }",
  ),
};

export const TOY_PIPELINE = `name: toy
seed: 1
stages:
  source:
    uses: ./stages/source.mjs
    with: { n: 5 }
  scale:
    uses: ./stages/scale.mjs
    inputs: { numbers: source }
    with: { factor: 2 }
  sum:
    uses: ./stages/sum.mjs
    inputs: { numbers: scale }
  report:
    uses: ./stages/report.mjs
    inputs: { sum: sum }
`;

export interface ToyProject {
  dir: string;
  pipeline: string;
  /** Run the CLI synchronously in the project folder. */
  pipe(args: string[], env?: Record<string, string>): SpawnSyncReturns<string>;
}

export async function makeToyProject(pipelineText = TOY_PIPELINE): Promise<ToyProject> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-toy-'));
  await mkdir(join(dir, 'stages'));
  for (const [file, text] of Object.entries(TOY_STAGES)) await writeFile(join(dir, 'stages', file), text);
  const pipeline = join(dir, 'pipeline.yaml');
  await writeFile(pipeline, pipelineText);
  return {
    dir,
    pipeline,
    pipe: (args, env = {}) =>
      spawnSync(process.execPath, [PIPE_BIN, ...args], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: '', ...env },
      }),
  };
}

/** Start the CLI without waiting (for kill tests). */
export function spawnPipe(dir: string, args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, [PIPE_BIN, ...args], {
    cwd: dir,
    env: { ...process.env, CI: 'true', NO_COLOR: '1', PIPE_ARTIFACTS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function runSync(cmd: string, args: string[]) {
  return spawnSync(cmd, args, { encoding: 'utf8' });
}
