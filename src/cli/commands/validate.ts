// `pipe validate`: check a pipeline (core schema, every stage's params, the input graph, the stages' output facts) without running it.
import { PipeError, PipeErrors } from '../../errors.js';
import { printable } from '../../printable.js';
import { onePipeline, parseCommandArgs } from '../args.js';

export const usage = `Usage: pipe validate <pipeline.yaml> [--set key=value]...

Check a pipeline without running anything: YAML syntax, the pipeline schema, each stage's params,
that every input refers to an existing stage output with no cycles, and that each model takes the
images its data holds. Prints every problem at once, each at file:line:column with the offending line.

Options:
  --set <path>=<value>   override a value, as \`pipe run\` would (repeatable):
                         <stage>.<param>=<value> sets stages.<stage>.with.<param>;
                         seed=7, backend=cpu, name=... set the top level.
                         Values are YAML: 10, true, [a, b], {a: 1}. A path param is relative to
                         the current folder.

Exit status: 0 when the pipeline is valid, 2 when it has problems.

Examples:
  pipe validate pipelines/quickstart.yaml
  pipe validate pipelines/fer2013-baseline.yaml --set train.epochs=2 --set seed=7
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('validate', argv, { set: { type: 'string', multiple: true, default: [] } });
  const file = onePipeline('validate', positionals);
  const sets = values.set as string[];
  const { loadPipeline } = await import('../../config/load.js');
  try {
    const pipeline = await loadPipeline(file, { sets });
    const count = Object.keys(pipeline.stages).length;
    process.stdout.write(`ok: ${printable(pipeline.spec.name, { singleLine: true })}, ${count} stage${count === 1 ? '' : 's'}\n`);
    return 0;
  } catch (err) {
    if (!(err instanceof PipeErrors)) throw err;
    const n = err.errors.length;
    process.stderr.write(`${err.format()}\n\n${n} problem${n === 1 ? '' : 's'} in ${file}\n`);
    return err.exitCode;
  }
}
