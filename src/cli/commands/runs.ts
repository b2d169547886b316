// `pipe runs`: past runs, newest first: when, which stages ran or were cached, durations.
import { PipeError } from '../../errors.js';
import { printable } from '../../printable.js';
import { parseCommandArgs } from '../args.js';
import { listRuns } from '../../runs/read.js';
import { storeRoot } from '../../store/open-store.js';
import { formatSeconds } from '../../ui/run-view.js';

export const usage = `Usage: pipe runs [--pipeline <name>] [--limit N] [--cache <dir>] [--json]

Lists past runs, newest first: id, pipeline, status, when, and per stage whether it ran (with its duration)
or came from the cache. Show one run in full with 'pipe runs <run-id>' (a unique prefix is enough).
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('runs', argv, {
    pipeline: { type: 'string' },
    limit: { type: 'string', default: '20' },
    cache: { type: 'string' },
    json: { type: 'boolean', default: false },
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
    runs = matches;
  } else {
    runs = runs.slice(0, Number(values.limit) || 20);
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
    return 0;
  }
  if (runs.length === 0) {
    process.stdout.write(`no runs recorded in ${root} yet; start one with 'pipe run <pipeline.yaml>'\n`);
    return 0;
  }
  for (const r of runs) {
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
  }
  return 0;
}
