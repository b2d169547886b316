// `pipe runs`: past runs as an experiment table (params that differ, headline metrics), or one run in full.
import { PipeError } from '../../errors.js';
import { printable } from '../../printable.js';
import { parseCommandArgs } from '../args.js';
import { listRuns } from '../../runs/read.js';
import type { RunRecord } from '../../runs/record.js';
import { storeRoot } from '../../store/open-store.js';
import { formatSeconds } from '../../ui/run-view.js';

export const usage = `Usage: pipe runs [run-id] [--pipeline <name>] [--limit N] [--all] [--json | --markdown] [--cache <dir>]

Lists past runs, newest first, as one table: run id, pipeline, status, wall time, stages that ran, the
params that differ between the listed runs (e.g. train.epochs), and the headline metrics (test accuracy,
balanced accuracy, macro F1, leakage verdict). Runs that ran nothing (every stage from the cache) are left
out unless --all. A run killed before it could record its end shows as interrupted.
Show one run in full (stage by stage) with 'pipe runs <run-id>' (a unique prefix is enough).
The same table in a browser, with each run's curves and runs compared: 'pipe ui'.

Options:
  --pipeline <name>   only the runs of this pipeline (its name: value)
  --limit <n>         at most n rows (default 20)
  --all               include the runs that ran nothing
  --json              the run records as a JSON array, each with "metrics" (headline metrics) and
                      "differs" (its value of each param that differs between the listed runs)
  --markdown          the table in Markdown (e.g. >> "$GITHUB_STEP_SUMMARY")
  --cache <dir>       artifact store (default: $PIPE_ARTIFACTS, else ./artifacts)

Examples:
  pipe runs
  pipe runs --pipeline quickstart --markdown
  pipe runs 2026-11-24T10-46
`;

export async function run(argv: string[]): Promise<number> {
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
    const matches = runs.filter((r) => r.id.startsWith(positionals[0]));
    if (matches.length !== 1) {
      throw new PipeError(matches.length ? `run id '${positionals[0]}' is ambiguous (${matches.length} runs)` : `no run '${positionals[0]}' in ${root}`, {
        hint: "'pipe runs' lists the runs",
      });
    }
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
  for (const [id, s] of stages) {
    const detail = s.status === 'ran' ? formatSeconds(s.seconds) : s.error ? s.error : '';
    process.stdout.write(printable(`    ${s.status.padEnd(11)} ${id} (${s.uses})${detail ? `  ${detail}` : ''}`, { singleLine: true }) + '\n');
  }
  const h = r.metrics?.headline;
  if (h) process.stdout.write(`  ${h.split}: accuracy ${h.accuracy}, balanced accuracy ${h.balancedAccuracy}, macro F1 ${h.macroF1}\n`);
  for (const g of r.gates ?? []) process.stdout.write(`  gate ${g.failed ? 'FAILED' : 'passed'}: ${g.text}${g.value === undefined ? '' : ` (${g.value})`}\n`);
}
