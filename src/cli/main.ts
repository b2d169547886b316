// Entry point of the `pipe` CLI: dispatches to one lazily loaded module per command, so `pipe --help`
// loads nothing heavy (no TensorFlow.js, no Arrow).
import { closest } from '../config/suggest.js';
import { PipeError, stackOf } from '../errors.js';
import { printable } from '../printable.js';
import type { CommandModule } from './command.js';

interface CommandEntry {
  name: string;
  summary: string;
  load(): Promise<CommandModule>;
}

const COMMANDS: CommandEntry[] = [
  { name: 'run', summary: 'run a pipeline; stages whose inputs, params and code are unchanged come from the cache', load: () => import('./commands/run.js') },
  { name: 'worker', summary: 'take stage jobs from a Redis queue (BullMQ) and build them into the artifact cache', load: () => import('./commands/worker.js') },
  { name: 'status', summary: 'show each stage as cached or stale, and why', load: () => import('./commands/status.js') },
  { name: 'plan', summary: 'print what a run would do (JSON for CI fan-out): keys, cached or stale and why, labels', load: () => import('./commands/plan.js') },
  { name: 'validate', summary: 'check a pipeline against its schema without running it', load: () => import('./commands/validate.js') },
  { name: 'dag', summary: 'print the stage graph (text or Mermaid)', load: () => import('./commands/dag.js') },
  { name: 'export', summary: 'write a trained model as a TensorFlow.js model with its classes and preprocessing', load: () => import('./commands/export.js') },
  { name: 'predict', summary: 'classify PNG/JPEG images with a trained model, prepared as in training', load: () => import('./commands/predict.js') },
  { name: 'runs', summary: 'list past runs (when, name, tags, stages run or cached, metrics); note or remove one', load: () => import('./commands/runs.js') },
  { name: 'compare', summary: 'compare runs or pipelines: differing params and metrics side by side', load: () => import('./commands/compare.js') },
  { name: 'ui', summary: 'a local dashboard of the runs: sortable table, live training curves, runs compared', load: () => import('./commands/ui.js') },
  { name: 'schema', summary: 'regenerate schemas/pipeline.schema.json from the core and every stage', load: () => import('./commands/schema.js') },
  { name: 'cache', summary: 'inspect the artifact cache and bound it (`pipe cache gc`)', load: () => import('./commands/cache.js') },
  { name: 'doctor', summary: 'show which TensorFlow.js backends work here, and why the others do not', load: () => import('./commands/doctor.js') },
];

export const MAIN_USAGE = `pipe: declarative, cached pipelines for training image classifiers

Usage: pipe <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(10)}${c.summary}`).join('\n')}

Global options:
  --debug         print stack traces for errors
  -h, --help      show help (also: pipe <command> --help)
  -v, --version   print the version

Examples:
  pipe run pipelines/quickstart.yaml
  pipe run pipelines/fer2013-baseline.yaml --set ingest.path=~/data/fer2013.csv.gz --set train.epochs=10
  pipe status pipelines/fer2013-baseline.yaml
  pipe dag pipelines/quickstart.yaml --mermaid
`;

function suggest(name: string): string | undefined {
  const names = COMMANDS.map((c) => c.name);
  return closest(name, names) ?? (name.length >= 2 ? names.find((c) => c.startsWith(name.slice(0, 2))) : undefined);
}

export async function main(argv: string[]): Promise<number> {
  // `pipe runs | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    process.stdout.write(topic ? (await topic.load()).usage : MAIN_USAGE);
    return 0;
  }
  if (name === '-v' || name === '--version') {
    const { pipeVersion } = await import('../runs/provenance.js');
    process.stdout.write(`${pipeVersion()}\n`);
    return 0;
  }
  const entry = COMMANDS.find((c) => c.name === name);
  if (!entry) {
    const guess = suggest(name);
    process.stderr.write(`pipe: unknown command '${name}'${guess ? `; did you mean '${guess}'?` : ''}\nRun 'pipe --help' for the list.\n`);
    return 2;
  }
  try {
    const command = await entry.load();
    if (rest.includes('-h') || rest.includes('--help')) {
      process.stdout.write(command.helpFor?.(rest) ?? command.usage);
      return 0;
    }
    return await command.run(rest, { debug });
  } catch (err) {
    return reportError(err, debug);
  }
}

/** Print an error the way users should see it; returns the exit code. */
export function reportError(err: unknown, debug: boolean): number {
  if (err instanceof PipeError) {
    process.stderr.write(`${err.format()}\n`);
    if (debug) process.stderr.write(`${stackOf(err)}\n`);
    return err.exitCode;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`pipe: ${printable(message)}\n`);
  if (debug && err instanceof Error) process.stderr.write(`${stackOf(err)}\n`);
  else process.stderr.write('(run again with --debug for the stack trace)\n');
  return 1;
}
