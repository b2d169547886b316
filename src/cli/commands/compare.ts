// `pipe compare`: runs (by id) or pipelines (their latest run) side by side: the params that differ, the metrics
// of every stage output named `metrics`, and durations.
import { PipeError } from '../../errors.js';
import type { ComparisonFormat } from '../../run/compare.js';
import { parseCommandArgs } from '../args.js';

export const usage = `Usage: pipe compare <run-id | pipeline.yaml> <run-id | pipeline.yaml>... [options]

Compare runs side by side in one table: the params that differ between them (as paths like
train.epochs or build.layers[2].conv2d.filters; params that are the same are left out), the
metrics of every stage output named \`metrics\` (accuracy, balanced accuracy, macro F1 and loss
per split), and how long each stage took or whether it came from the cache.

A run is named by its id or a unique prefix of it (\`pipe runs\` lists them); a pipeline file
stands for its latest run (runs are told apart by file, so two files that share a \`name:\` are two
pipelines). A swept pipeline stands for the latest run of each of its variants, so
\`pipe compare sweep.yaml\` alone compares the variants.

Options:
  --sort <metric>  order the runs best first on a metric: <split>.<metric> or <stage>.<split>.<metric>,
                   metric one of accuracy, balancedAccuracy, macroF1, loss (lowest first), e.g. test.accuracy
  --json           print the comparison as JSON (numbers unformatted)
  --markdown       print a Markdown table (e.g. for a CI job summary)
  --cache <dir>    artifact store holding the runs (default: $PIPE_ARTIFACTS, else the pipeline's
                   cache: setting, else ./artifacts)

Examples:
  pipe compare pipelines/fer2013-paper-protocol.yaml pipelines/fer2013-baseline.yaml
  pipe compare 2026-11-24T10-46 2026-11-24T11-02 --markdown >> "$GITHUB_STEP_SUMMARY"
  pipe compare pipelines/sweep.yaml --sort test.accuracy
`;

function parse(argv: string[]): { targets: string[]; format: ComparisonFormat; cache?: string; sort?: string } {
  const { values, positionals } = parseCommandArgs('compare', argv, {
    json: { type: 'boolean', default: false },
    markdown: { type: 'boolean', default: false },
    md: { type: 'boolean', default: false },
    cache: { type: 'string' },
    sort: { type: 'string' },
  });
  if (positionals.length === 0) {
    throw new PipeError('compare needs at least two runs or pipelines, got 0', {
      hint: 'pipe compare pipelines/a.yaml pipelines/b.yaml   (or run ids from `pipe runs`, or a swept pipeline)',
    });
  }
  // Of --json and --markdown (--md), the last one given wins.
  const last = argv.filter((a) => a === '--json' || a === '--markdown' || a === '--md').pop();
  const format = last === undefined ? 'text' : last === '--json' ? 'json' : 'markdown';
  return { targets: positionals, format, cache: values.cache, sort: values.sort };
}

export async function run(argv: string[]): Promise<number> {
  const options = parse(argv);
  const { findRuns } = await import('../../run/run-target.js');
  const { comparisonOutput } = await import('../../run/compare.js');
  type RunRecord = import('../../runs/record.js').RunRecord;

  const runs: { record: RunRecord; storeRoot: string }[] = [];
  for (const target of options.targets) {
    runs.push(...(await findRuns(target, options.cache)));
  }
  if (runs.length < 2) {
    throw new PipeError(`compare needs at least two runs or pipelines, got ${runs.length}`, {
      hint: 'pipe compare pipelines/a.yaml pipelines/b.yaml   (or run ids from `pipe runs`, or a swept pipeline)',
    });
  }
  process.stdout.write(await comparisonOutput(runs, options.format, options.sort));
  return 0;
}
