// `npm run screenshots`: PNGs of each dashboard page for the README (docs/images/ui-*.png), from the store the
// browser tests look at (test/support/dashboard-store.ts), in the system Chromium at 1280×800. Not a test: run it
// by hand when a page changes, and commit the images.
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { launchChromium } from '../support/chromium.js';
import { tinyRunsStore } from '../support/dashboard-store.js';
import { startPipe } from '../../harness/pipe-process.js';
import { REPO_ROOT } from '../../harness/toy-project.js';
import { TINY_PIPELINE } from '../support/tiny-pipeline.js';
import type { RunRecord } from '../../src/runs/record.js';

const OUT = join(REPO_ROOT, 'docs', 'images');

const { runner, runs } = await tinyRunsStore('pipe-screenshots-');
// A sweep beside the runs, for the sweep page.
const swept = runner.pipe(['run', TINY_PIPELINE, '--sweep', 'train.epochs=[1,2,3]', '--sweep', 'build.layers[0].conv2d.filters=[4,8]', '--name', 'a sweep']);
assert.equal(swept.status, 0, swept.stderr);
const records: RunRecord[] = [];
for (const id of await readdir(join(runner.store, 'runs'))) records.push(JSON.parse(await readFile(join(runner.store, 'runs', id, 'run.json'), 'utf8')) as RunRecord);
const sweepId = records.find((r) => r.sweep && !r.sweep.shared)!.sweep!.id;
const { test } = (JSON.parse(await readFile(join(runner.store, runs[1].stages.evaluate.outputs.predictions), 'utf8')) as { splits: { test: { truth: number[]; predicted: number[] } } }).splits;
const counts = new Map<string, number>();
test.truth.forEach((t, i) => t !== test.predicted[i] && counts.set(`${t}/${test.predicted[i]}`, (counts.get(`${t}/${test.predicted[i]}`) ?? 0) + 1));
const commonestMistake = [...counts].sort((a, b) => b[1] - a[1])[0][0].split('/');
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
    // The run's most frequent mistake picked, its images most confident first.
    { file: 'ui-mistakes.png', hash: `#/mistakes/${ids[1]}/evaluate/test/${commonestMistake.join('/')}`, ready: '#cell-gallery figure.tile img' },
    { file: 'ui-sweep.png', hash: `#/sweep/${sweepId}`, ready: '#scatter svg circle[data-run]' },
  ];
  await mkdir(OUT, { recursive: true });
  for (const p of pages) {
    await page.goto(new URL(p.hash, base).href);
    await page.waitForSelector(p.ready, { state: 'attached', timeout: 60_000 });
    await page.waitForFunction(() => Array.from(document.images).every((img) => img.complete), undefined, { timeout: 60_000 });
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
