// `pipe run`: plan, then execute the stale stages with a live view, a run record and a JSON log.
import { relative } from 'node:path';
import { parseGate, GATE_SYNTAX_HINT, type Gate } from '../../config/gates.js';
import { pino } from 'pino';
import { PipeError, stackOf } from '../../errors.js';
import { printable } from '../../printable.js';
import { execute, messageOf, type StageOutcome } from '../../exec/executor.js';
import { upstreamOf, type Plan } from '../../plan/plan.js';
import { previousKeyParts, stageStates } from '../../plan/staleness.js';
import { outlineOf } from '../../runs/read.js';
import type { RunRecord } from '../../runs/record.js';
import { newRunId } from '../../runs/write.js';
import type { ArtifactCache } from '../../store/artifact-cache.js';
import { hostTag } from '../../owner.js';
import { createRunView } from '../../ui/run-view.js';
import { settleGates } from '../run-gates.js';
import { checkGates, printRunSummary, publishRun } from '../run-summary.js';
import { onePipeline, parseCommandArgs } from '../args.js';
import type { CommandOptions } from '../command.js';
import { openVariants } from '../open-pipeline.js';

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

The run record and log go to <artifacts>/runs/<run-id>/ (see 'pipe runs'). Artifacts live in ./artifacts,
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
  pipe run pipelines/quickstart.yaml --sweep 'train.optimizer.learningRate=[0.002,0.0005]' --jobs 2 --sort test.accuracy
  pipe run pipelines/quickstart.yaml --fail-if 'test.accuracy < 0.6' --fail-if 'leakage.leaky == 1'
  pipe run pipelines/quickstart.yaml --fail-if 'test.accuracy < baseline - 0.01' --baseline main-run.json
`;

export interface RunOptions {
  file: string;
  queue?: string;
  sets: string[];
  sweeps: string[];
  variant?: string;
  /** Absent: 1, or every variant at once with --queue. */
  jobs?: number;
  sort?: string;
  force: 'all' | string[];
  only: string[];
  until?: string;
  backend?: string;
  dryRun: boolean;
  json: boolean;
  logLevel: string;
  failIf: Gate[];
  baseline?: string;
}

function parse(argv: string[]): RunOptions {
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
  return {
    failIf,
    baseline: values.baseline,
    file,
    sets: values.set as string[],
    sweeps: values.sweep as string[],
    variant: values.variant,
    queue: values.queue ?? (process.env.PIPE_QUEUE || undefined),
    jobs,
    sort: values.sort,
    force: force.includes('*') ? 'all' : force,
    only: values.only as string[],
    until: values.until,
    backend,
    dryRun: values['dry-run']!,
    json: values.json!,
    logLevel: values['log-level']!,
  };
}

/** A sweep's variant runs learn the sweep they belong to from the process that started them. */
export const SWEEP_RUN_ENV = 'PIPE_SWEEP_RUN';

function sweepRunFromEnv(): { id?: string; shared?: boolean } {
  try {
    const value = JSON.parse(process.env[SWEEP_RUN_ENV] ?? '{}') as { id?: unknown; shared?: unknown };
    return { ...(typeof value.id === 'string' ? { id: value.id } : {}), ...(value.shared === true ? { shared: true } : {}) };
  } catch {
    return {};
  }
}

function checkStageNames(plan: Plan, names: string[], flag: string): void {
  for (const name of names) {
    if (!plan.stages[name]) {
      throw new PipeError(`${flag} ${name}: no stage '${name}' in pipeline '${plan.pipeline.name}'`, {
        hint: `stages: ${plan.order.join(', ')}`,
      });
    }
  }
}

function selection(plan: Plan, o: RunOptions): Set<string> {
  checkStageNames(plan, o.only, '--only');
  checkStageNames(plan, o.until ? [o.until] : [], '--until');
  checkStageNames(plan, o.force === 'all' ? [] : o.force, '--force');
  if (o.only.length) return new Set(o.only);
  if (o.until) return upstreamOf(plan, [o.until]);
  return new Set(plan.order);
}

export async function run(argv: string[], options: CommandOptions = {}): Promise<number> {
  const o = parse(argv);
  const { store, variants } = await openVariants(o.file, { sets: o.sets, sweeps: o.sweeps, variant: o.variant, backend: o.backend });
  // Before anything runs, a sweep's variants included: the variants differ only in params.
  const { gates, baseline } = await settleGates(variants[0].loaded, relative(process.cwd(), variants[0].loaded.file), o.failIf, o.baseline, store);
  if (variants[0].name !== undefined && o.variant === undefined) {
    const { runSweep } = await import('../sweep-run.js');
    return runSweep(o, variants, store);
  }
  const [{ loaded, plan, name: variant, sets: variantSets }] = variants;
  const sweepRun = variant === undefined ? undefined : sweepRunFromEnv();
  const selected = selection(plan, o);
  const force = new Set(o.force === 'all' ? plan.order : o.force);
  const backend = plan.pipeline.backend;

  if (o.dryRun) {
    const local = store.cache.local;
    const states = await stageStates(plan, (k) => local.lookup(k), previousKeyParts(await local.manifests(), plan.pipeline.name));
    const rows = states.filter((s) => selected.has(s.id));
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ pipeline: plan.pipeline.name, stages: rows.map((s) => ({ ...s, wouldRun: force.has(s.id) || !s.cached })) }, null, 2)}\n`);
    } else {
      for (const s of rows) {
        const why = force.has(s.id) ? ['forced'] : s.reasons;
        process.stdout.write(`${s.cached && !force.has(s.id) ? 'cached' : 'run   '}  ${s.id} (${s.uses})${why.length ? `: ${why.join('; ')}` : ''}\n`);
      }
    }
    return 0;
  }

  const runId = newRunId();
  const record: RunRecord = {
    id: runId,
    pipeline: { name: plan.pipeline.name, file: relative(process.cwd(), loaded.file), path: relative(store.root, loaded.file) },
    ...(variant === undefined ? {} : { sweep: { ...sweepRun, variant, sets: variantSets } }),
    startedAt: new Date().toISOString(),
    status: 'running',
    owner: { pid: process.pid, host: hostTag() },
    seed: plan.pipeline.seed,
    backend,
    argv,
    stages: {},
  };
  // A read-only store (a CI cache restored read-only, a shared mount) still serves cached stages: the run then
  // keeps no record or log, says so once, and a stage that has to run fails saying where it could not write.
  const readOnly = await store.cache.local.writeProblem();
  if (readOnly) {
    process.stderr.write(
      `warning: the artifact store ${store.root} is not writable (${readOnly.code}): cached stages are used as they are, ` +
        'no run record or log is kept, and a stage that has to run will fail\n',
    );
  }
  const saveRecord = () => (readOnly ? Promise.resolve() : store.runs.write(record));
  // Stage warnings go to the log and, as they happen, to the terminal (the live view, or stderr with --json).
  let view: ReturnType<typeof createRunView> | undefined;
  const warnings = {
    write(line: string) {
      const { stage, msg, level } = JSON.parse(line) as { stage?: string; msg?: string; level?: number };
      if (!stage || !msg || level !== pino.levels.values.warn) return; // failures are reported on their own
      if (view?.observer.warn) view.observer.warn(stage, msg);
      else process.stderr.write(`warning: ${stage}: ${printable(msg)}\n`);
    },
  };
  const logFile = readOnly ? undefined : pino.destination({ dest: store.runs.logFile(runId), sync: true, mkdir: true });
  const levels = pino.levels.values;
  const log = pino(
    { level: (levels[o.logLevel] ?? Infinity) < levels.warn ? o.logLevel : 'warn', base: { run: runId }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream([...(logFile ? [{ level: o.logLevel as pino.Level, stream: logFile }] : []), { level: 'warn', stream: warnings }]),
  );
  log.info({ pipeline: record.pipeline, backend, argv }, 'run started');
  await saveRecord();

  const abort = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    log.warn({ signal }, 'interrupted');
    process.stderr.write(`\n${signal}: stopping at the next safe point (finished stages stay cached; press Ctrl-C again to quit at once)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const order = plan.order.filter((id) => selected.has(id));
  view = o.json ? undefined : createRunView(order.map((id) => ({ id, uses: plan.stages[id].uses, upstream: plan.stages[id].upstream })));
  let saving = Promise.resolve();
  const started = performance.now();
  const { queueSubmitter } = o.queue ? await import('../queue-submit.js') : { queueSubmitter: undefined };
  const submitter = queueSubmitter?.({
    url: o.queue!,
    run: runId,
    pipeline: { file: relative(process.cwd(), loaded.file), content: loaded.source.text, sets: [...o.sets, ...variantSets], backend: o.backend },
    runsOn: Object.fromEntries(Object.entries(loaded.spec.stages).map(([id, s]) => [id, s['runs-on']])),
    cache: store.cache,
    log,
    signal: abort.signal,
    observer: view?.observer,
  });
  await submitter?.submit(plan, selected, force);
  const result = await execute({
    build: submitter?.build,
    plan,
    cache: store.cache,
    selected,
    force,
    log,
    signal: abort.signal,
    observer: view?.observer,
    onRecord: (id, stageRecord) => {
      record.stages[id] = stageRecord;
      saving = saving.then(saveRecord);
    },
  });
  await view?.done;
  await submitter?.close();
  await waitForPushes(store.cache, o.json, abort.signal);
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);

  const outcomes = Object.entries(result.outcomes);
  const failed = outcomes.filter(([, r]) => r.status === 'failed');
  record.status = abort.signal.aborted ? 'interrupted' : failed.length ? 'failed' : 'ok';
  record.finishedAt = new Date().toISOString();
  // Keep the record in pipeline order.
  record.stages = Object.fromEntries(plan.order.filter((id) => result.records[id]).map((id) => [id, result.records[id]]));
  await saving;
  await saveRecord();
  // A stopped run says nothing more to the remote: the user asked it to end, and the remote may be what holds it.
  if (!abort.signal.aborted) await store.cache.recordRun(outlineOf(record));
  log.info({ status: record.status, seconds: (performance.now() - started) / 1000 }, 'run finished');
  log.flush();

  const published = record.status === 'ok' ? await publishRun(store.root, record, gates, baseline, !readOnly) : undefined;
  if (published) await saveRecord();

  if (o.json) {
    process.stdout.write(`${JSON.stringify({ ...record, paths: published?.paths }, null, 2)}\n`);
  } else {
    printRunSummary(plan, result.outcomes, (performance.now() - started) / 1000, record, published);
  }
  // One error that failed several stages (a queue lost mid-run) is said once, naming them all.
  const byError = new Map<unknown, string[]>();
  for (const [id, r] of failed) {
    const error = (r as { error: unknown }).error;
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
  const skipped = outcomes.filter(([, r]) => r.status === 'skipped');
  for (const [id, r] of skipped) process.stderr.write(`stage '${id}' was skipped: ${(r as { reason: string }).reason}\n`);
  if (skipped.length) return 1;
  return checkGates(record);
}

/** The run's pushes to the remote cache went on in the background; the process waits for them and says so. */
async function waitForPushes(cache: ArtifactCache, json: boolean, signal: AbortSignal): Promise<void> {
  const remote = cache.remote;
  if (!remote?.writable) return;
  const say = (line: string) => (json ? process.stderr : process.stdout).write(`${line}\n`);
  const waiting = cache.pendingPushes;
  if (waiting > 0) say(`waiting for ${waiting} ${waiting === 1 ? 'upload' : 'uploads'} to the remote cache ${remote.location}…`);
  // An interrupted run does not wait for uploads: Ctrl-C or SIGTERM cancels them (no half entry is left).
  const report = await cache.flush(signal);
  const parts = [`${report.pushed.length} pushed`];
  if (report.present.length) parts.push(`${report.present.length} already there`);
  if (report.failed.length) parts.push(`${report.failed.length} not pushed`);
  if (report.pushed.length + report.present.length + report.failed.length > 0) say(`remote cache ${remote.location}: ${parts.join(', ')}`);
}

