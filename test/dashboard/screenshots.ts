// `npm run screenshots`: PNGs of each dashboard page for the README (docs/images/ui-*.png), from the store the
// browser tests look at (test/support/dashboard-store.ts), in the system Chromium at 1280×800. Not a test: run it
// by hand when a page changes, and commit the images.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium } from '../support/chromium.js';
import { tinyRunsStore } from '../support/dashboard-store.js';
import { startPipe } from '../../harness/pipe-process.js';
import { REPO_ROOT } from '../../harness/toy-project.js';

const OUT = join(REPO_ROOT, 'docs', 'images');

const { runner, runs } = await tinyRunsStore('pipe-screenshots-');
const ui = startPipe(REPO_ROOT, ['ui', '--port', '0'], { PIPE_ARTIFACTS: runner.store });
const launched = await launchChromium();
try {
  if ('skip' in launched) throw new Error(launched.skip);
  const base = /http:\/\/\S+/.exec(await ui.waitFor(/http:\/\/\S+/))![0];
  const page = await launched.browser.newPage({ viewport: { width: 1280, height: 800 } });
  const ids = runs.map((r) => r.id);
  // Each page, and what shows that it has drawn. Add a page here when the dashboard gains one.
  const pages: Array<{ file: string; hash: string; ready: string }> = [
    { file: 'ui-runs.png', hash: '#/', ready: '#runs tbody tr[data-run]' },
    { file: 'ui-run.png', hash: `#/run/${ids[1]}`, ready: 'figure[data-chart="learning rate"] svg .mark-line path' },
    { file: 'ui-compare.png', hash: `#/compare/${ids.join(',')}`, ready: 'figure[data-chart="learning rate"] svg .mark-line path' },
  ];
  await mkdir(OUT, { recursive: true });
  for (const p of pages) {
    await page.goto(new URL(p.hash, base).href);
    await page.waitForSelector(p.ready, { state: 'attached', timeout: 60_000 });
    // The frame after the last chart was drawn.
    await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
    await page.screenshot({ path: join(OUT, p.file), type: 'png' });
    process.stdout.write(`docs/images/${p.file}\n`);
  }
} finally {
  if (!('skip' in launched)) await launched.browser.close();
  await ui.stop();
  await rm(runner.store, { recursive: true, force: true });
}
