// `pipe runs`: past runs as an experiment table (params that differ, headline metrics), or one run in full; and
// `pipe runs note` / `pipe runs rm`, the two commands that change the run log.
import { PipeError } from '../../errors.js';
import { printable } from '../../printable.js';
import { parseCommandArgs } from '../args.js';
import { listRuns, resolveRunId } from '../../runs/read.js';
import type { RunRecord } from '../../runs/record.js';
import { openStore, storeRoot } from '../../store/open-store.js';
import { formatSeconds } from '../../ui/run-view.js';

export const usage = `Usage: pipe runs [run-id] [--pipeline <name>] [--limit N] [--all] [--json | --markdown] [--cache <dir>]
       pipe runs note <run-id> "<text>"
       pipe runs rm <run-id> [--force]

Lists past runs, newest first, as one table: run id, its --name, pipeline, status, wall time, stages that
ran, the params that differ between the listed runs (e.g. train.epochs), the headline metrics (test accuracy,
balanced accuracy, macro F1, leakage verdict) and its --tags. Runs that ran nothing (every stage from the
cache) are left out unless --all. A run killed before it could record its end shows as interrupted.
Show one run in full (stage by stage, git commit, host, notes) with 'pipe runs <run-id>' (a unique prefix is
enough). The same table in a browser, with each run's curves and runs compared: 'pipe ui'.

  pipe runs note <run-id> "<text>"   add a note to a run (kept in its record with the time; notes add up)
  pipe runs rm <run-id>              remove a run's record and log (see 'pipe runs rm --help')

Options:
  --pipeline <name>   only the runs of this pipeline (its name: value)
  --limit <n>         at most n rows (default 20)
  --all               include the runs that ran nothing
  --json              the run records as a JSON array (name, tags, notes, git, host and pipeVersion
                      included), each with "metrics" (headline metrics) and "differs" (its value of each
                      param that differs between the listed runs)
  --markdown          the table in Markdown (e.g. >> "$GITHUB_STEP_SUMMARY")
  --cache <dir>       artifact store (default: $PIPE_ARTIFACTS, else ./artifacts)

Examples:
  pipe runs
  pipe runs --pipeline quickstart --markdown
  pipe runs 2026-11-24T10-46
  pipe runs note 2026-11-24T10-46 "val loss jumps at epoch 7: lr too high?"
  pipe runs rm 2026-11-24T10-46
`;

const NOTE_USAGE = `Usage: pipe runs note <run-id> "<text>" [--cache <dir>]

Adds a note to a run: what you tried, what you saw, why it failed. The note is kept in the run's record
(runs/<run-id>/run.json) with the time it was added; each note adds to the ones before. 'pipe runs <run-id>',
'pipe runs --json' and 'pipe ui' show them. A note may span lines (at most 2000 characters); a run still going
can be noted too. <run-id> is the id 'pipe runs' lists, or a unique start of it.

Examples:
  pipe runs note 2026-11-24T10-46 "baseline for the augmentation study"
  pipe runs note 2026-11-24T10-46-46-123Z-3fa9 "overfits after epoch 12; try dropout 0.6"
`;

const RM_USAGE = `Usage: pipe runs rm <run-id> [--force] [--cache <dir>]

Removes a run's record and log (runs/<run-id>/). What the run built stays in the cache: another run may use
the same entries, and 'pipe cache gc' decides what to remove by the records that remain (so after rm, the
entries only this run used are no longer kept). Where <artifacts>/latest/<pipeline>/ pointed at this run, it
then points at the newest remaining run of that pipeline (or variant), or goes when none is left.
A run still going is refused; --force removes its record anyway (a run whose machine died).

Options:
  --force        remove the record of a run that is marked as running
  --cache <dir>  artifact store (default: $PIPE_ARTIFACTS, else ./artifacts)

Examples:
  pipe runs rm 2026-11-24T10-46
  pipe runs rm 2026-11-24T10-46-46-123Z-3fa9 && pipe cache gc --all-unused
`;

/** The help of `pipe runs note` and `pipe runs rm`. */
export function helpFor(argv: string[]): string {
  const sub = argv.find((a) => !a.startsWith('-'));
  return sub === 'note' ? NOTE_USAGE : sub === 'rm' ? RM_USAGE : usage;
}

async function note(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('runs note', argv, { cache: { type: 'string' } });
  if (positionals.length !== 2) {
    throw new PipeError(positionals.length < 2 ? 'pipe runs note takes a run id and the note' : `pipe runs note takes a run id and one note, got ${positionals.length} arguments`, {
      hint: 'quote the note: pipe runs note <run-id> "the text"',
    });
  }
  const store = await openStore({ flag: values.cache });
  const { id, notes } = await store.runs.addNote(positionals[0], positionals[1]);
  process.stdout.write(`noted run ${id} (${notes.length} ${notes.length === 1 ? 'note' : 'notes'})\n`);
  return 0;
}

async function remove(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('runs rm', argv, { cache: { type: 'string' }, force: { type: 'boolean', default: false } });
  if (positionals.length !== 1) {
    throw new PipeError(positionals.length ? `pipe runs rm takes one run id, got ${positionals.length}` : 'which run? give its id', { hint: "pipe runs rm <run-id> ('pipe runs' lists them)" });
  }
  const store = await openStore({ flag: values.cache });
  const { id, record, latest } = await store.runs.remove(positionals[0], values.force);
  const what = record ? printable(record.pipeline.name, { singleLine: true }) : 'damaged record';
  process.stdout.write(`removed run ${id} (${what}); its cache entries stay until 'pipe cache gc'\n`);
  const { relative } = await import('node:path');
  for (const l of latest) {
    const dir = relative(process.cwd(), l.dir) || '.';
    process.stdout.write(l.run ? `${dir}/ now points at run ${l.run}\n` : `${dir}/ removed: no other run of it is left\n`);
  }
  return 0;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'note') return note(argv.slice(1));
  if (argv[0] === 'rm') return remove(argv.slice(1));
  const { values, positionals } = parseCommandArgs('runs', argv, {
    pipeline: { type: 'string' },
    limit: { type: 'string', default: '20' },
    cache: { type: 'string' },
    all: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    markdown: { type: 'boolean', default: false },
  });
  const root = storeRoot({ flag: values.cache });
  let runs = await listRuns(root);
  if (values.pipeline) runs = runs.filter((r) => r.pipeline.name === values.pipeline);
  if (positionals[0]) {
    const id = resolveRunId(positionals[0], runs.map((r) => r.id), root);
    const matches = runs.filter((r) => r.id === id);
    if (values.json) process.stdout.write(`${JSON.stringify(matches, null, 2)}\n`);
    else printRun(matches[0]);
    return 0;
  }
  const { readRunMetrics } = await import('../../report/run-metrics.js');
  const { runsTable, runsTableMarkdown, runsTableText, executedSomething } = await import('../../report/runs-table.js');
  const limit = Number(values.limit) || 20;
  const listed = (values.all ? runs : runs.filter(executedSomething)).slice(0, limit);
  // Runs recorded before metrics were kept in the record: read them from the store while it has them.
  const metrics = new Map<RunRecord, Awaited<ReturnType<typeof readRunMetrics>>>();
  for (const r of listed) metrics.set(r, r.metrics ?? (await readRunMetrics(root, r)));
  const table = runsTable(listed, (r) => metrics.get(r), true);
  table.hidden = values.all ? 0 : runs.filter((r) => !executedSomething(r)).length;
  if (values.json) {
    // The records themselves (newest first), each with its headline metrics and the params that differ.
    const rows = listed.map((r, i) => ({ ...r, metrics: metrics.get(r), differs: table.rows[i].params }));
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return 0;
  }
  if (table.rows.length === 0) {
    process.stdout.write(
      runs.length ? `no run executed anything yet (${runs.length} ran nothing; --all shows them)\n` : `no runs recorded in ${root} yet; start one with 'pipe run <pipeline.yaml>'\n`,
    );
    return 0;
  }
  // Pipeline names and param values come from the user's files: escape control characters.
  process.stdout.write(printable(values.markdown ? runsTableMarkdown(table) : runsTableText(table)));
  return 0;
}

function printRun(r: RunRecord): void {
  const seconds = r.finishedAt ? (Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000 : undefined;
  const stages = Object.entries(r.stages);
  const ran = stages.filter(([, s]) => s.status === 'ran').length;
  process.stdout.write(
    `${r.id}  ${printable(r.pipeline.name, { singleLine: true })}  ${r.status}  ${r.startedAt.replace('T', ' ').slice(0, 19)}  ${seconds === undefined ? '' : formatSeconds(seconds)}  ` +
      `${ran} ran, ${stages.length - ran} cached/other · backend ${r.backend.resolved}\n`,
  );
  const line = (text: string) => process.stdout.write(`  ${printable(text, { singleLine: true })}\n`);
  if (r.name !== undefined) line(`name: ${r.name}`);
  if (r.tags?.length) line(`tags: ${r.tags.join(' ')}`);
  const where = [r.git ? `git ${r.git.commit.slice(0, 12)}${r.git.dirty ? ' (uncommitted changes)' : ''}` : '', r.host ? `host ${r.host}` : '', r.pipeVersion ? `pipe ${r.pipeVersion}` : ''];
  if (where.some(Boolean)) line(where.filter(Boolean).join(' · '));
  for (const [id, s] of stages) {
    const detail = s.status === 'ran' ? formatSeconds(s.seconds) : s.error ? s.error : '';
    process.stdout.write(printable(`    ${s.status.padEnd(11)} ${id} (${s.uses})${detail ? `  ${detail}` : ''}`, { singleLine: true }) + '\n');
  }
  const h = r.metrics?.headline;
  if (h) process.stdout.write(`  ${h.split}: accuracy ${h.accuracy}, balanced accuracy ${h.balancedAccuracy}, macro F1 ${h.macroF1}\n`);
  for (const g of r.gates ?? []) process.stdout.write(`  gate ${g.failed ? 'FAILED' : 'passed'}: ${g.text}${g.value === undefined ? '' : ` (${g.value})`}\n`);
  for (const n of r.notes ?? []) {
    const [first, ...more] = printable(n.text).split('\n');
    process.stdout.write(`  note ${n.at.replace('T', ' ').slice(0, 19)}: ${first}\n${more.map((l) => `    ${l}\n`).join('')}`);
  }
}
