// `pipe plan`: what a run would do, stage by stage (cached where, or stale and why; what it waits on; which
// machines may run it), as text or as the versioned JSON a CI job fans out (docs/plan-format.md).
import { onePipeline, parseCommandArgs } from '../args.js';

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
  const { planOf } = await import('../../run/plan.js');
  const { printPlan } = await import('../plan-output.js');
  const doc = await planOf(file, { sets: values.set as string[], sweeps: values.sweep as string[], variant: values.variant, backend: values.backend });
  printPlan(doc, values.json!);
  return 0;
}
