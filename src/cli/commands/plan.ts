// `pipe plan`: what a run would do, stage by stage (cached where, or stale and why; what it waits on; which
// machines may run it), as text or as the versioned JSON a CI job fans out (docs/plan-format.md).
import { relative } from 'node:path';
import { onePipeline, parseCommandArgs } from '../args.js';
import { printable } from '../../printable.js';

export const usage = `Usage: pipe plan <pipeline.yaml> [--set stage.param=value]... [--sweep path=[a,b]]... [--variant name] [--json]

Shows what 'pipe run' would do, without running anything: for each stage its cache key and state
(cached-local, cached-remote, or stale with the reason), the stages it waits on and the runs-on labels a
machine needs to run it. With a sweep (the pipeline's sweep: block or --sweep), every variant is planned and
a stage the variants share is listed once.

--json prints the plan in the documented, versioned format "pipe-plan/1" (docs/plan-format.md), for CI
matrices and other tools: jq '[.stages[] | select(.state == "stale") | .id]' lists what would run.

Options:
  --set <stage.param=value>  override a param (repeatable), as for pipe run
  --sweep <path=[a,b,...]>   sweep a value (repeatable; the variants are the cross product)
  --variant <name>           plan only this variant of the sweep
  --backend <name>           auto | tensorflow | wasm | cpu (part of the keys of model stages)
  --json                     print the plan as JSON

Examples:
  pipe plan pipelines/quickstart.yaml
  pipe plan pipelines/quickstart.yaml --json | jq -c '[.stages[] | select(.state == "stale") | .id]'
  pipe plan pipelines/quickstart.yaml --sweep 'train.optimizer.learningRate=[0.001,0.0003]' --json
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('plan', argv, {
    set: { type: 'string', multiple: true, default: [] },
    sweep: { type: 'string', multiple: true, default: [] },
    variant: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean', default: false },
  });
  const file = onePipeline('plan', positionals);
  const { openVariants } = await import('../open-pipeline.js');
  const { planDocument, pipelineKey } = await import('../../plan/plan-document.js');
  const { previousKeyParts } = await import('../../plan/staleness.js');
  const sets = values.set as string[];
  const { store, variants } = await openVariants(file, { sets, sweeps: values.sweep as string[], variant: values.variant, backend: values.backend });
  const manifests = await store.cache.local.manifests();
  const first = variants[0].loaded;
  const doc = await planDocument(
    { name: first.spec.name, file: relative(process.cwd(), first.file) || file, key: pipelineKey(first.source.text), sets },
    variants.map((v) => ({
      name: v.name,
      sets: v.sets,
      plan: v.plan,
      runsOn: Object.fromEntries(Object.entries(v.loaded.spec.stages).map(([id, s]) => [id, s['runs-on']])),
      previous: previousKeyParts(manifests, v.plan.pipeline.name),
    })),
    // The artifact cache says which tier holds an entry: 'remote' for what only a remote tier holds.
    store.cache,
  );
  if (values.json) {
    process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  const label = (s: (typeof doc.stages)[number]) => `${s.id} (${s.type})${s.variants && s.variants.length < (doc.variants?.length ?? 0) ? ` [${s.variants.join(' | ')}]` : ''}`;
  const width = Math.max(...doc.stages.map((s) => label(s).length));
  for (const s of doc.stages) {
    const state = s.state.padEnd(13);
    const where = s.runsOn.length ? `  runs-on: ${s.runsOn.join(', ')}` : '';
    const waits = s.needs.length ? `  after ${s.needs.join(', ')}` : '';
    process.stdout.write(printable(`${`${state}  ${label(s).padEnd(width)}${waits}${where}`.trimEnd()}${s.reasons.length ? `\n               ${s.reasons.join('; ')}` : ''}\n`));
  }
  const { stale, stages } = doc.summary;
  const variantsNote = doc.variants ? ` over ${doc.variants.length} variants` : '';
  process.stdout.write(`\n${printable(doc.pipeline.name, { singleLine: true })}: ${stale === 0 ? 'everything cached' : `${stale} of ${stages} stages would run`}${variantsNote}\n`);
  return 0;
}
