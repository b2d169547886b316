// `pipe ui`: a local dashboard over the runs of the store (src/dashboard/): runs, curves, comparisons, mistakes
// and sweeps; with --export, the same pages as a static site.
import { join } from 'node:path';
import { PipeError } from '../../errors.js';
import { parseCommandArgs } from '../args.js';
import { storeRoot } from '../../store/open-store.js';

export const usage = `Usage: pipe ui [--port 7007] [--host 127.0.0.1] [--open] [--cache <dir>]
       pipe ui --export <dir> [--force] [--cache <dir>]

Serves a dashboard of the runs in the artifact store (the same runs 'pipe runs' lists) and prints its URL:
  Runs     every run with its name, status (live), pipeline, variant, tags, git commit, start, duration,
           the params that differ, its headline metrics with the leakage verdict and its notes; sort and
           filter on any column (tags:baseline), 100 rows a page, tick runs to compare
  Run      curves of loss, accuracy and learning rate by epoch or by training time, growing live while the
           run trains; the headline metrics, the confusion matrices and a link to the HTML report
  Compare  2 to 20 runs: curves overlaid, one colour a run; each metric's difference from the first run;
           the params that differ; confusion matrices side by side
  Mistakes a run's evaluated images: click a confusion cell for the images of that true class predicted as
           that class, with their probabilities; the most confident mistakes; the leakage check's copies
  Sweep    the variants of a sweep: parallel coordinates of the swept params and a metric you pick, and a
           scatter of one param against it
It only reads the store, and works offline (vega is served from the installed package). Ctrl-C stops it.

--export <dir> writes the Runs, Run, Mistakes and Sweep pages as a static site instead (no server: the data
sits in data/*.js beside index.html, the images in images/, the reports in store/): open index.html from disk,
or publish the folder as a CI artifact or on GitHub Pages. Comparing runs and live curves need the server.
The site is written beside <dir> and moved onto it when complete; a <dir> that holds files is refused unless
--force, which replaces it.

Options:
  --port <n>       port to listen on (default 7007; 0: any free port)
  --host <addr>    address to listen on (default 127.0.0.1, this machine only). Any other address, e.g.
                   0.0.0.0 to reach it from elsewhere, needs a token: one is made at start and printed in
                   the URL, and every request without it is refused (403)
  --open           open the URL in a browser, where one can be started
  --cache <dir>    artifact store (default: $PIPE_ARTIFACTS, else ./artifacts)
  --export <dir>   write the pages as a static site into <dir> and exit
  --force          with --export: replace a <dir> that is not empty

Examples:
  pipe ui --open
  pipe ui --cache /shared/artifacts --port 8080
  pipe ui --host 0.0.0.0        (then open the printed URL, token included, on the other machine)
  pipe ui --export site && xdg-open site/index.html
`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs('ui', argv, {
    port: { type: 'string', default: '7007' },
    host: { type: 'string', default: '127.0.0.1' },
    open: { type: 'boolean', default: false },
    cache: { type: 'string' },
    export: { type: 'string' },
    force: { type: 'boolean', default: false },
  });
  if (positionals.length) {
    throw new PipeError(`pipe ui takes no arguments, got '${positionals[0]}'`, { hint: 'name the store with --cache <dir> (see pipe ui --help)' });
  }
  if (values.force && values.export === undefined) throw new PipeError('--force goes with --export <dir>', { hint: 'pipe ui --export site --force' });
  if (values.export !== undefined) {
    if (values.open) throw new PipeError('--open does not go with --export', { hint: 'open <dir>/index.html once it is written' });
    const { exportDashboard } = await import('../../dashboard/export.js');
    const root = storeRoot({ flag: values.cache });
    const result = await exportDashboard({ storeRoot: root, dir: values.export, force: values.force });
    process.stdout.write(
      `pipe ui: ${result.runs} runs, ${result.sweeps} sweeps, ${result.images} images and ${result.reports} reports of ${root} written to ${result.dir}\n` +
        `open ${join(result.dir, 'index.html')}\n`,
    );
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new PipeError(`--port ${values.port} is not a port number`, { hint: 'give 1 to 65535, or 0 for any free port' });
  }
  const { randomBytes } = await import('node:crypto');
  const { startDashboard, isLoopback } = await import('../../dashboard/server.js');
  const host = values.host!;
  const root = storeRoot({ flag: values.cache });
  const token = isLoopback(host) ? undefined : randomBytes(24).toString('base64url');
  const dashboard = await startDashboard({ storeRoot: root, host, port, token });
  process.stdout.write(`pipe ui: the runs of ${root} at ${dashboard.url}\n`);
  if (token) process.stdout.write('(reachable from other machines: only with the token in this URL)\n');
  process.stdout.write('Ctrl-C stops it\n');
  if (values.open) await openBrowser(dashboard.url);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await dashboard.close();
  return 0;
}

/** Open `url` with the platform's opener; where there is none, the printed URL is enough. */
async function openBrowser(url: string): Promise<void> {
  const { spawn } = await import('node:child_process');
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '""', url]] : ['xdg-open', [url]];
  await new Promise<void>((resolve) => {
    const child = spawn(command, args, { stdio: 'ignore', detached: true });
    child.once('error', () => {
      process.stdout.write(`(could not start a browser: open ${url} yourself)\n`);
      resolve();
    });
    child.once('spawn', () => {
      child.unref();
      resolve();
    });
  });
}
