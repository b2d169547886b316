// `pipe compare`: runs (by id) or pipelines (their latest run) side by side: the params that differ, the metrics
// of every stage output named `metrics`, and durations.
import { PipeError } from '../../errors.js';
import { printable } from '../../printable.js';

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

interface Options {
  targets: string[];
  format: 'text' | 'json' | 'markdown';
  cache?: string;
  sort?: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { targets: [], format: 'text' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--json') options.format = 'json';
    else if (arg === '--markdown' || arg === '--md') options.format = 'markdown';
    else if (arg === '--cache') {
      if (argv[i + 1] === undefined) throw new PipeError('--cache needs a folder', { hint: 'e.g. --cache artifacts' });
      options.cache = argv[++i];
    } else if (arg.startsWith('--cache=')) options.cache = arg.slice('--cache='.length);
    else if (arg === '--sort') {
      if (argv[i + 1] === undefined) throw new PipeError('--sort needs a metric', { hint: 'e.g. --sort test.accuracy' });
      options.sort = argv[++i];
    } else if (arg.startsWith('--sort=')) options.sort = arg.slice('--sort='.length);
    else if (arg.startsWith('-')) throw new PipeError(`unknown option '${arg}'`, { hint: 'see pipe compare --help' });
    else options.targets.push(arg);
  }
  if (options.targets.length === 0) {
    throw new PipeError('compare needs at least two runs or pipelines, got 0', {
      hint: 'pipe compare pipelines/a.yaml pipelines/b.yaml   (or run ids from `pipe runs`, or a swept pipeline)',
    });
  }
  return options;
}

export async function run(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  const { findRuns } = await import('../run-target.js');
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

/** The comparison of these runs as text, Markdown or JSON, runs best first on `sort` when given. */
export async function comparisonOutput(
  runs: { record: import('../../runs/record.js').RunRecord; storeRoot: string }[],
  format: Options['format'],
  sort?: string,
): Promise<string> {
  const { comparedRun } = await import('../../report/run-metrics.js');
  const { compareRuns } = await import('../../report/compare.js');
  const { sortComparison } = await import('../../report/compare-sort.js');
  const compared = await Promise.all(runs.map(({ record, storeRoot }) => comparedRun(storeRoot, record)));
  let comparison = compareRuns(compared);
  if (sort) comparison = sortComparison(comparison, sort);
  if (format === 'json') return `${JSON.stringify(comparison, null, 2)}\n`;
  const { comparisonMarkdown, comparisonText } = await import('../../report/compare-table.js');
  return printable(format === 'markdown' ? comparisonMarkdown(comparison) : comparisonText(comparison));
}
