// `pipe status`: every stage cached or stale, and why.
import { printable } from '../../printable.js';
import { previousKeyParts, stageStates } from '../../plan/staleness.js';
import { onePipeline, parseCommandArgs } from '../args.js';
import { openPipeline } from '../../exec/open-pipeline.js';

export const usage = `Usage: pipe status <pipeline.yaml> [--set stage.param=value]... [--json] [--exit-code]

Shows each stage as cached (its outputs are in the store and would be reused) or stale (it would run), and why:
"params changed: train.epochs 32 → 10", "input changed: ingest", "stage code changed", "file changed", "never run".

Options:
  --exit-code    exit with code 1 when any stage is stale (like \`git diff --exit-code\` or \`dvc status -q\`),
                 so CI can check that a restored cache is complete: pipe status p.yaml --exit-code || pipe run p.yaml

Example:
  pipe status pipelines/quickstart.yaml --set train.epochs=3
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('status', argv, {
    set: { type: 'string', multiple: true, default: [] },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
    'exit-code': { type: 'boolean', default: false },
  });
  const { plan, store } = await openPipeline(onePipeline('status', positionals), { sets: values.set as string[], backend: values.backend });
  const local = store.cache.local;
  const states = await stageStates(plan, (k) => local.lookup(k), previousKeyParts(await local.manifests(), plan.pipeline.name));
  const staleExit = values['exit-code'] && states.some((s) => !s.cached) ? 1 : 0;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ pipeline: plan.pipeline.name, stages: states }, null, 2)}\n`);
    return staleExit;
  }
  const width = Math.max(...states.map((s) => s.id.length + s.uses.length + 3));
  for (const s of states) {
    const name = `${s.id} (${s.uses})`.padEnd(width);
    process.stdout.write(printable(`${s.cached ? 'cached' : 'stale '}  ${name}${s.cached ? '' : `  ${s.reasons.join('; ')}`}\n`));
  }
  const stale = states.filter((s) => !s.cached).length;
  process.stdout.write(`\n${printable(plan.pipeline.name, { singleLine: true })}: ${stale === 0 ? 'everything cached' : `${stale} of ${states.length} stages would run`}\n`);
  return staleExit;
}
