// `pipe run`: the flags, the run itself (src/run/run.ts), then what it came to: the live view while it runs, the
// summary or the run record as JSON, failures, gates, and the exit code.
import { parseGate, GATE_SYNTAX_HINT } from '../../config/gates.js';
import { checkRunName, checkRunTags } from '../../runs/labels.js';
import { PipeError, stackOf } from '../../errors.js';
import { printable } from '../../printable.js';
import { messageOf } from '../../exec/executor.js';
import type { RunOptions } from '../../run/options.js';
import type { FinishedRun, RunResult } from '../../run/run.js';
import type { SweepResult } from '../../run/sweep.js';
import { onePipeline, parseCommandArgs } from '../args.js';
import type { CommandOptions } from '../command.js';

export const usage = `Usage: pipe run <pipeline.yaml> [options]

Runs a pipeline. Each stage's outputs are cached under a key made of its type, code, params, inputs and the
files it reads: a stage runs only when one of those changed, and a run that changes nothing runs nothing.

Options:
  --set <stage.param=value>  override a param (repeatable), e.g. --set train.epochs=10; validated like the file
  --force[=<stage>]          run every stage (or just <stage>, repeatable) even when cached
  --only <stage>             run only this stage (repeatable); its inputs must already be cached
  --until <stage>            run this stage and what it depends on, nothing downstream
  --backend <name>           auto | tensorflow | wasm | cpu (overrides the pipeline's backend)
  --sweep <path=[a,b,...]>   run a variant per value (repeatable: the cross product), like a sweep: block
  --variant <name>           run only this variant of the sweep (names: pipe plan)
  --jobs <n>                 variants of a sweep that run at once, each in its own process (default 1; with
                             --queue, all of them: the workers decide how many stages build at once)
  --sort <metric>            order the sweep's closing comparison best first, e.g. test.accuracy
  --queue <redis://host:port> build the stale stages on 'pipe worker' processes (also $PIPE_QUEUE), as one
                             flow of jobs that follows the graph; run from the checkout's root, with workers on
                             the same commit and the remote cache between machines (docs/scale.md). A queue
                             gone for PIPE_QUEUE_RECONNECT_S seconds (default 20) fails the run. With
                             PIPE_QUEUE_KEY set the jobs are signed with it (for workers that have the key)
  --name <text>              name the run (one line, at most 120 characters): 'pipe runs' and 'pipe ui' show
                             it. A sweep's variants all get the sweep's name (each has its variant beside it)
  --tag <word>               tag the run (repeatable; one word each, at most 64 characters), e.g. --tag baseline;
                             a sweep's variants all get the sweep's tags
  --dry-run                  show what would run and why, run nothing
  --fail-if <condition>      fail the run (exit code 3) when a metric meets the condition, e.g.
                             --fail-if 'test.accuracy < 0.6' (repeatable; adds to the pipeline's gates.failIf);
                             against a baseline run: --fail-if 'test.accuracy < baseline - 0.01'
  --baseline <run>           the run that 'baseline' in a gate stands for: a run id (or its start) from
                             'pipe runs', a pipeline file (its latest run), a run.json file (e.g. main's,
                             saved by CI as <artifacts>/latest/<pipeline>/run.json), or 'remote': the latest
                             run of this pipeline that pushed to the remote cache (where only main writes, main's)
  --json                     print the run record as JSON on stdout (no live view); paths under "paths" are
                             relative to the working directory
  --log-level <level>        level of the run's JSON log: trace | debug | info | warn | error (default info)

A sweep (the pipeline's sweep: block, or --sweep) runs the stages its variants share once, then the variants,
up to --jobs at a time, and ends with 'pipe compare' over them.

The run record and log go to <artifacts>/runs/<run-id>/ (see 'pipe runs'); the record also keeps the git
commit of the pipeline file's checkout (and whether tracked files had changes), the host and pipe's version. Artifacts live in ./artifacts,
the pipeline's cache: setting, or $PIPE_ARTIFACTS (which wins, so CI can restore one cache for all).
After the run, <artifacts>/latest/<pipeline name>/ (a sweep variant's: latest/<pipeline name>@<variant>/)
links to its report.html, metrics.json, summary.md, model/ and run.json, and the last lines print those paths
and the headline metrics (test accuracy, balanced accuracy, macro F1, leakage verdict).

Gate metrics: <split>.accuracy | .balancedAccuracy | .macroF1 | .loss (e.g. test.macroF1), <stage>.<split>.<metric>,
<stage>.<summary field> (e.g. train.bestValAccuracy), leakage.leaky (1 when images are shared between splits).
A gate naming a metric that no stage reports is refused before anything runs, with the closest name.

Exit codes: 0 ok · 1 a stage failed or was skipped · 2 bad input (pipeline, flags, unknown gate metric) ·
3 a gate failed · 130 interrupted.

A shared remote cache (S3-compatible: AWS S3, MinIO, R2, Ceph, Garage): with PIPE_REMOTE_CACHE=s3://bucket/prefix
(or cache: { remote: s3://... } in the pipeline; file:///path for a folder every machine mounts, NFS or SMB) a
stage missing here is fetched from there, verified and shown as "cached (remote)". PIPE_REMOTE_CACHE_ENDPOINT=http://host:port names a server other than AWS; credentials
come from the standard AWS variables. Pushing what this run builds needs PIPE_REMOTE_CACHE_WRITE=1: switch it
on only for trusted builds (e.g. the main branch). PIPE_CACHE_SIGNING_KEY signs and checks entries (HMAC);
PIPE_REMOTE_CACHE_TIMEOUT bounds each request (seconds, default 30), and a download also gets its size at
PIPE_REMOTE_CACHE_MIN_RATE (bytes per second, default 256KiB). A remote that fails only costs time: the run
goes on with the local cache.

Examples:
  pipe run pipelines/quickstart.yaml
  pipe run pipelines/fer2013-baseline.yaml --set ingest.path=data/fer2013.csv.gz --set train.epochs=10
  pipe run pipelines/quickstart.yaml --force=train --until evaluate
  pipe run pipelines/quickstart.yaml --name 'wider conv' --tag baseline --tag fer2013
  pipe run pipelines/quickstart.yaml --sweep 'train.optimizer.learningRate=[0.002,0.0005]' --jobs 2 --sort test.accuracy
  pipe run pipelines/quickstart.yaml --fail-if 'test.accuracy < 0.6' --fail-if 'leakage.leaky == 1'
  pipe run pipelines/quickstart.yaml --fail-if 'test.accuracy < baseline - 0.01' --baseline main-run.json
`;

/** The run's options, and how it is shown: --json prints the record (or the sweep's) instead of the live view. */
interface Parsed {
  options: RunOptions;
  json: boolean;
  sort?: string;
}

function parse(argv: string[]): Parsed {
  // `--force` alone means every stage; parseArgs needs a value, so give the bare flag one.
  const args = argv.map((a) => (a === '--force' ? '--force=*' : a));
  const { values, positionals } = parseCommandArgs('run', args, {
    set: { type: 'string', multiple: true, default: [] },
    sweep: { type: 'string', multiple: true, default: [] },
    variant: { type: 'string' },
    queue: { type: 'string' },
    jobs: { type: 'string' },
    sort: { type: 'string' },
    force: { type: 'string', multiple: true, default: [] },
    only: { type: 'string', multiple: true, default: [] },
    until: { type: 'string' },
    backend: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'log-level': { type: 'string', default: 'info' },
    'fail-if': { type: 'string', multiple: true, default: [] },
    baseline: { type: 'string' },
    name: { type: 'string' },
    tag: { type: 'string', multiple: true, default: [] },
  });
  const file = onePipeline('run', positionals);
  const backend = values.backend;
  if (backend && !['auto', 'tensorflow', 'wasm', 'cpu'].includes(backend)) {
    throw new PipeError(`unknown backend '${backend}'`, { hint: "use auto, tensorflow, wasm or cpu ('pipe doctor' shows what works here)" });
  }
  const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
  if (!levels.includes(values['log-level']!)) {
    throw new PipeError(`unknown log level '${values['log-level']}'`, { hint: `use one of ${levels.join(', ')}` });
  }
  const force = values.force as string[];
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs);
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new PipeError(`--jobs ${values.jobs}: expected a whole number of at least 1`, { hint: 'e.g. --jobs 2' });
  const failIf = (values['fail-if'] as string[]).map((text) => {
    const gate = parseGate(text, '--fail-if');
    if (typeof gate === 'string') throw new PipeError(`--fail-if: ${gate}`, { hint: GATE_SYNTAX_HINT });
    return gate;
  });
  const name = values.name === undefined ? undefined : checkRunName(values.name);
  const tags = checkRunTags(values.tag as string[]);
  return {
    json: values.json!,
    sort: values.sort,
    options: {
      failIf,
      baseline: values.baseline,
      file,
      sets: values.set as string[],
      sweeps: values.sweep as string[],
      variant: values.variant,
      queue: values.queue ?? (process.env.PIPE_QUEUE || undefined),
      jobs,
      force: force.includes('*') ? 'all' : force,
      only: values.only as string[],
      until: values.until,
      backend,
      dryRun: values['dry-run']!,
      logLevel: values['log-level']!,
      name,
      tags,
      commandLine: argv,
    },
  };
}

export async function run(argv: string[], options: CommandOptions = {}): Promise<number> {
  const { options: o, json, sort } = parse(argv);
  const { runPipeline } = await import('../../run/run.js');
  const { createRunView } = await import('../../ui/run-view.js');
  const stderrWarning = (stage: string, message: string) => process.stderr.write(`warning: ${stage}: ${printable(message)}\n`);
  const result: RunResult = await runPipeline(o, {
    readOnlyStore: (root, code) =>
      process.stderr.write(
        `warning: the artifact store ${root} is not writable (${code}): cached stages are used as they are, ` +
          'no run record or log is kept, and a stage that has to run will fail\n',
      ),
    // Stage warnings show in the live view, or on stderr with --json.
    display: (stages) => (json ? { observer: { warn: stderrWarning } } : createRunView(stages)),
    interrupted: (signal) =>
      process.stderr.write(`\n${signal}: stopping at the next safe point (finished stages stay cached; press Ctrl-C again to quit at once)\n`),
    uploads: (line) => (json ? process.stderr : process.stdout).write(`${line}\n`),
    sweepStarted: (s) =>
      (json ? process.stderr : process.stdout).write(`sweep ${s.id}: ${s.variants.length} variants (${s.variants.join(', ')}), ${s.jobs} at a time${s.queue ? ` on the queue ${s.queue}` : ''}\n`),
    // With --json, stdout carries only the sweep's JSON: the steps' lines go to stderr.
    stepOutput: (label, line, stream) => (stream === 'stderr' || json ? process.stderr : process.stdout).write(`[${label}] ${line}\n`),
  });
  switch (result.kind) {
    case 'dry-run':
      if (json) {
        process.stdout.write(`${JSON.stringify({ pipeline: result.pipeline, stages: result.stages }, null, 2)}\n`);
      } else {
        for (const s of result.stages) {
          const why = result.forced.has(s.id) ? ['forced'] : s.reasons;
          process.stdout.write(`${s.wouldRun ? 'run   ' : 'cached'}  ${s.id} (${s.uses})${why.length ? `: ${why.join('; ')}` : ''}\n`);
        }
      }
      return 0;
    case 'sweep-plan': {
      const { printPlan } = await import('../plan-output.js');
      printPlan(result.plan, json);
      return 0;
    }
    case 'sweep':
      return printSweep(result, json, sort);
    case 'run':
      return printRun(result, json, options);
  }
}

async function printRun(r: FinishedRun, json: boolean, options: CommandOptions): Promise<number> {
  const { record, published } = r;
  const { checkGates, printRunSummary } = await import('../run-summary.js');
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...record, paths: published?.paths }, null, 2)}\n`);
  } else {
    printRunSummary(r.plan, r.outcomes, r.seconds, record, published);
  }
  const outcomes = Object.entries(r.outcomes);
  const failed = outcomes.filter(([, s]) => s.status === 'failed');
  // One error that failed several stages (a queue lost mid-run) is said once, naming them all.
  const byError = new Map<unknown, string[]>();
  for (const [id, s] of failed) {
    const error = (s as { error: unknown }).error;
    byError.set(error, [...(byError.get(error) ?? []), id]);
  }
  for (const [error, ids] of byError) {
    const which = ids.length === 1 ? `stage '${ids[0]}'` : `stages ${ids.map((id) => `'${id}'`).join(', ')}`;
    if (error instanceof PipeError) process.stderr.write(`\n${which} failed:\n${error.format()}\n`);
    else process.stderr.write(`\n${which} failed: ${printable(messageOf(error))}\n`);
    if (options.debug) process.stderr.write(`${stackOf(error)}\n`);
    else if (!(error instanceof PipeError)) process.stderr.write('(run again with --debug for the stack trace)\n');
  }
  if (record.status === 'interrupted') return 130;
  if (failed.length) return 1;
  const skipped = outcomes.filter(([, s]) => s.status === 'skipped');
  for (const [id, s] of skipped) process.stderr.write(`stage '${id}' was skipped: ${(s as { reason: string }).reason}\n`);
  if (skipped.length) return 1;
  return checkGates(record);
}

/** The sweep's closing comparison of its variants (best first on --sort), or its JSON; the exit code. */
async function printSweep(r: SweepResult, json: boolean, sort: string | undefined): Promise<number> {
  const { comparisonOutput } = await import('../../run/compare.js');
  const runs = r.runs.map((record) => ({ record, storeRoot: r.storeRoot }));
  const compare = async (format: 'text' | 'json') => {
    try {
      return await comparisonOutput(runs, format, sort);
    } catch (err) {
      if (!(err instanceof PipeError) || !sort) throw err;
      process.stderr.write(`${err.format()}\n`);
      return comparisonOutput(runs, format);
    }
  };
  if (json) {
    const comparison = runs.length ? JSON.parse(await compare('json')) : undefined;
    process.stdout.write(`${JSON.stringify({ sweep: r.id, shared: r.shared, runs: r.runs, comparison }, null, 2)}\n`);
  } else if (runs.length) {
    process.stdout.write(`\n${printable(r.pipeline, { singleLine: true })}: sweep of ${r.variants} variants${sort ? `, best first on ${sort}` : ''}\n`);
    process.stdout.write(await compare('text'));
  }
  if (r.codes.includes(130) || r.stopped) return 130;
  return r.codes.find((c) => c !== 0) ?? 0;
}
