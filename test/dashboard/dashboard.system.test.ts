// `pipe ui`: the dashboard server as a child process over a store of real tiny-pipeline runs, driven over HTTP
// and in the system Chromium as a user would: sorting, picking runs to compare, a run's curves growing live.
// Safety: loopback by default, a token anywhere else, nothing read outside the store, nothing written to it,
// every name from the data shown as text, a damaged run record shown as damaged.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { RunRecord } from '../../src/runs/record.js';
import { pageWithErrors, requireChromium } from '../support/chromium.js';
import { startPipe, type PipeProcess } from '../../harness/pipe-process.js';
import { pipeWithStore, TINY_PIPELINE, type PipeRunner } from '../support/tiny-pipeline.js';
import { tinyRunsStore } from '../support/dashboard-store.js';
import { makeToyProject, REPO_ROOT, type ToyProject } from '../../harness/toy-project.js';
import type { RunsList } from '../../src/dashboard/api.js';

const PAYLOAD_IMG = '<img src=x onerror="window.__xss=1">';
const PAYLOAD_SCRIPT = '</script><script>window.__xss=2</script>';
const EVIL_NAME = `tiny ${PAYLOAD_IMG}${PAYLOAD_SCRIPT}`;
const EVIL_ID = '2026-01-01T00-00-00-000Z-e71c';
const EVIL_SWEEP = '2026-01-01T00-00-00-000Z-5eep';
const DAMAGED_ID = '2026-01-02T00-00-00-000Z-dead';

/** `pipe ui` over `store`, once it has printed its URL. */
async function startUi(store: string, args: string[] = []): Promise<{ ui: PipeProcess; url: URL }> {
  const ui = startPipe(REPO_ROOT, ['ui', '--port', '0', ...args], { PIPE_ARTIFACTS: store });
  const line = await ui.waitFor(/http:\/\/\S+/);
  return { ui, url: new URL(/http:\/\/\S+/.exec(line)![0]) };
}

/** Every file under `dir` with its size and modification time: what "nothing was written" is checked against. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    const path = join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name);
    const s = await stat(path).catch(() => undefined);
    out.push(`${path} ${s?.size} ${s?.mtimeMs}`);
  }
  return out.sort();
}

describe('pipe ui (dashboard)', () => {
  let runner: PipeRunner;
  let runs: RunRecord[];
  let ui: PipeProcess;
  let base: URL;
  let outside: string;

  const get = (path: string, init: RequestInit = {}) => fetch(new URL(path, base), init);

  before(async () => {
    ({ runner, runs } = await tinyRunsStore('pipe-ui-'));
    // A run record from a shared store with script payloads in its pipeline name, a param and a class name.
    const evil: RunRecord = structuredClone(runs[0]);
    evil.id = EVIL_ID;
    evil.startedAt = '2026-01-01T00:00:00.000Z';
    evil.finishedAt = '2026-01-01T00:00:09.000Z';
    evil.pipeline.name = EVIL_NAME;
    evil.stages.train.params = { ...evil.stages.train.params, note: PAYLOAD_IMG + PAYLOAD_SCRIPT };
    const metrics = await readFile(join(runner.store, evil.stages.evaluate.outputs.metrics), 'utf8');
    const evilMetrics = join('entries', 'e7', 'e71c', 'out', 'metrics.json');
    await mkdir(join(runner.store, 'entries', 'e7', 'e71c', 'out'), { recursive: true });
    await writeFile(join(runner.store, evilMetrics), metrics.replaceAll('"Happy"', JSON.stringify(PAYLOAD_IMG + PAYLOAD_SCRIPT)));
    const predictions = await readFile(join(runner.store, evil.stages.evaluate.outputs.predictions), 'utf8');
    const evilPredictions = join('entries', 'e7', 'e71c', 'out', 'predictions.json');
    await writeFile(join(runner.store, evilPredictions), predictions.replaceAll('"Happy"', JSON.stringify(PAYLOAD_IMG + PAYLOAD_SCRIPT)));
    evil.stages.evaluate.outputs = { metrics: evilMetrics, predictions: evilPredictions };
    // A sweep of one variant whose name and swept param carry the payloads.
    evil.sweep = { id: EVIL_SWEEP, variant: `v ${PAYLOAD_IMG}`, sets: [`train.note=${PAYLOAD_IMG}${PAYLOAD_SCRIPT}`] };
    evil.stages.report.outputs = { html: 'entries/e7/e71c/out/report.html' };
    delete evil.metrics;
    await mkdir(join(runner.store, 'runs', EVIL_ID));
    await writeFile(join(runner.store, 'runs', EVIL_ID, 'run.json'), JSON.stringify(evil));
    // A run killed while its record was copied: the JSON stops half-way.
    const whole = await readFile(join(runner.store, 'runs', runs[0].id, 'run.json'), 'utf8');
    await mkdir(join(runner.store, 'runs', DAMAGED_ID));
    await writeFile(join(runner.store, 'runs', DAMAGED_ID, 'run.json'), whole.slice(0, whole.length / 2));
    // A file outside the store, and links in the store that lead to it.
    outside = join(tmpdir(), `pipe-ui-outside-${process.pid}`);
    await mkdir(outside, { recursive: true });
    await writeFile(join(outside, 'secret.txt'), 'outside the store\n');
    await symlink(join(outside, 'secret.txt'), join(runner.store, 'entries', 'e7', 'e71c', 'out', 'report.html'));
    await symlink(outside, join(runner.store, 'entries', 'e7', 'outside-dir'));
    ({ ui, url: base } = await startUi(runner.store));
  });

  after(async () => {
    await ui?.stop();
    await rm(runner.store, { recursive: true, force: true });
    await rm(outside, { recursive: true, force: true });
  });

  it('explains itself in --help and is listed by pipe --help', () => {
    const help = runner.pipe(['ui', '--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Usage: pipe ui \[--port 7007\] \[--host 127\.0\.0\.1\] \[--open\]/);
    assert.match(help.stdout, /needs a token/);
    assert.match(help.stdout, /pipe ui --export <dir> \[--force\]/);
    assert.match(help.stdout, /static site/);
    assert.match(runner.pipe(['--help']).stdout, /\n {2}ui {8}a local dashboard/);
  });

  it('serves on 127.0.0.1 by default and prints its URL', async () => {
    assert.equal(base.hostname, '127.0.0.1');
    assert.equal(base.search, '', 'no token on loopback');
    const other = Object.values(networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal);
    if (other) {
      await assert.rejects(fetch(`http://${other.address}:${base.port}/api/runs`), 'not reachable on another address');
    }
    // A page elsewhere that rebinds its own name to 127.0.0.1 is not answered.
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) =>
      request({ host: '127.0.0.1', port: base.port, path: '/api/runs', headers: { host: `evil.example:${base.port}` } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      })
        .on('error', reject)
        .end(),
    );
    assert.equal(status, 403);
  });

  it('lists every run in one compact response, the damaged record as damaged, and keeps serving', async () => {
    const res = await get('/api/runs');
    assert.equal(res.status, 200);
    const list = (await res.json()) as { params: string[]; runs: { id: string; pipeline: string; params: Record<string, unknown>; accuracy?: number; leaky?: boolean }[]; damaged: string[] };
    assert.deepEqual(
      list.runs.map((r) => r.id),
      [...runs].sort((a, b) => (a.startedAt < b.startedAt ? 1 : -1)).map((r) => r.id).concat(EVIL_ID),
    );
    assert.deepEqual(list.damaged, [DAMAGED_ID]);
    assert.ok(list.params.includes('train.epochs'), list.params.join(', '));
    const second = list.runs.find((r) => r.id === runs[1].id)!;
    assert.equal(second.params['train.epochs'], 3);
    assert.equal(typeof second.accuracy, 'number');
    assert.equal(second.leaky, false);
    assert.equal((await get(`/api/runs/${DAMAGED_ID}`)).status, 404);
    assert.equal((await get(`/api/compare?runs=${Array(21).fill(runs[0].id).join(',')}`)).status, 400, 'at most 20 compared');
    assert.equal((await get('/api/runs')).status, 200, 'still serving after the damaged record was asked for');
  });

  it('serves the run page data: epochs from history.json with lr and training time, the confusion matrix and the report link', async () => {
    const detail = (await (await get(`/api/runs/${runs[1].id}`)).json()) as {
      epochs: { epoch: number; lr?: number; elapsed?: number; valLoss?: number }[];
      confusion: { classes: string[]; matrix: number[][] }[];
      report?: string;
    };
    assert.deepEqual(detail.epochs.map((e) => e.epoch), [1, 2, 3]);
    assert.ok(detail.epochs.every((e) => typeof e.lr === 'number' && typeof e.elapsed === 'number' && typeof e.valLoss === 'number'));
    assert.equal(detail.confusion[0].classes.length, 7);
    assert.equal(detail.confusion[0].matrix.length, 7);
    const report = await get(detail.report!);
    assert.equal(report.status, 200);
    assert.match(report.headers.get('content-type')!, /text\/html/);
    assert.match(report.headers.get('content-security-policy')!, /sandbox/);
    assert.match(await report.text(), /<html/);
  });

  it('reads no file outside the store: .., encoded %2e%2e%2f, absolute paths and links leading out', async () => {
    const attempts = [
      '/store/../../../etc/passwd',
      '/store/..%2f..%2f..%2fetc%2fpasswd',
      '/store/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd',
      '/store/%2e%2e/%2e%2e/etc/passwd',
      '/store/%2Fetc%2Fpasswd',
      `/store/${encodeURIComponent(join(outside, 'secret.txt'))}`,
      '/store/entries/e7/e71c/out/report.html',
      '/store/entries/e7/outside-dir/secret.txt',
      '/api/runs/..%2f..%2fetc',
      '/assets/..%2f..%2f..%2fpackage.json',
      '/vendor/..%2fvega.min.js',
      '/store/%E0%A4%A',
      '/api/runs/%E0%A4%A',
    ];
    for (const path of attempts) {
      // Sent as written: fetch would resolve the dot segments itself.
      const { request } = await import('node:http');
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) =>
        request({ host: '127.0.0.1', port: base.port, path }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        })
          .on('error', reject)
          .end(),
      );
      assert.ok(status === 404 || status === 400 || status === 403, `${path}: ${status}`);
      assert.doesNotMatch(body, /root:|outside the store|"name": "pipe"/, path);
    }
    // The evil run's report link points at the link leading out: it is not served either.
    const detail = (await (await get(`/api/runs/${EVIL_ID}`)).json()) as { report?: string };
    assert.equal(detail.report, '/store/entries/e7/e71c/out/report.html');
    assert.equal((await get(detail.report)).status, 404);
    // A file inside the store is served.
    assert.equal((await get(`/store/runs/${runs[0].id}/run.json`)).status, 200);
  });

  it('is read-only: browsing every page writes nothing to the store, and writes are refused', async (t) => {
    const before = await snapshot(runner.store);
    const browser = await requireChromium();
    try {
      const page = await browser.newPage();
      await page.goto(new URL('/#/', base).href);
      await page.waitForSelector('#runs tbody tr');
      await page.goto(new URL(`/#/run/${runs[1].id}`, base).href);
      await page.waitForSelector('figure.chart svg');
      await page.goto(new URL(`/#/compare/${runs.map((r) => r.id).join(',')}`, base).href);
      await page.waitForSelector('#metric-deltas');
      await page.goto(new URL(`/#/mistakes/${runs[1].id}/evaluate/test/0/1`, base).href);
      await page.waitForSelector('#cell-gallery', { state: 'attached' });
      await page.goto(new URL(`/#/sweep/${EVIL_SWEEP}`, base).href);
      await page.waitForSelector('#parallel svg');
    } finally {
      await browser.close();
    }
    for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await get(`/store/runs/${runs[0].id}/run.json`, { method })).status, 405);
    assert.deepEqual(await snapshot(runner.store), before);
    t.diagnostic(`${before.length} store files unchanged`);
  });

  describe('in the browser', () => {
    let browser: Browser;
    let page: Page;
    let errors: string[] = [];

    before(async () => {
      ({ browser, page, errors } = await pageWithErrors());
    });
    after(() => browser?.close());

    const rowOrder = () => page.$$eval('#runs tbody tr[data-run]', (rows) => rows.map((r) => r.getAttribute('data-run')));
    const realRuns = async () => (await rowOrder()).filter((id) => id !== EVIL_ID);

    it('shows every run, sorts on a column and filters on any text, from one API request', async () => {
      const requests: string[] = [];
      const onRequest = (r: { url(): string }) => requests.push(new URL(r.url()).pathname);
      page.on('request', onRequest);
      await page.goto(new URL('/#/', base).href);
      await page.waitForSelector('#runs tbody tr[data-run]');
      page.off('request', onRequest);
      assert.deepEqual(requests.filter((p) => p.startsWith('/api/')), ['/api/runs']);
      assert.ok(requests.every((p) => !p.startsWith('http')), 'nothing from elsewhere');
      assert.equal((await rowOrder()).length, 4);
      assert.equal(await page.$$eval('#runs tr.damaged', (rows) => rows.map((r) => r.getAttribute('data-damaged')).join()), DAMAGED_ID);
      assert.match((await page.textContent('#runs tr.damaged'))!, /damaged/);

      const byEpochs = (epochs: number[]) => epochs.map((e) => runs.find((r) => r.stages.train.params.epochs === e)!.id);
      await page.click('button[data-sort="param:train.epochs"]');
      assert.deepEqual(await realRuns(), byEpochs([1, 2, 3]));
      await page.click('button[data-sort="param:train.epochs"]');
      assert.deepEqual(await realRuns(), byEpochs([3, 2, 1]));

      await page.fill('#filter', 'e71c');
      assert.deepEqual(await rowOrder(), [EVIL_ID]);
      await page.fill('#filter', '');
      assert.equal((await rowOrder()).length, 4);
    });

    it('compares 3 picked runs: overlaid curves with one series a run and a point an epoch, deltas, params, matrices', async () => {
      await page.goto(new URL('/#/', base).href);
      await page.waitForSelector('#runs tbody tr[data-run]');
      for (const r of runs) await page.check(`input[type=checkbox][data-run="${r.id}"]`);
      await page.click('#compare');
      await page.waitForSelector('figure[data-chart="learning rate"] svg .mark-line path', { state: 'attached' });
      const lr = await page.$eval('figure[data-chart="learning rate"]', (f) => ({
        series: Number(f.getAttribute('data-series')),
        points: JSON.parse(f.getAttribute('data-points')!) as Record<string, number>,
        paths: f.querySelectorAll('svg .mark-line.role-mark path').length,
      }));
      assert.equal(lr.series, 3);
      assert.equal(lr.paths, 3);
      // The runs in the order of the runs page (newest first): epochs 2, 3, 1.
      assert.deepEqual(Object.values(lr.points), [2, 3, 1]);
      const loss = await page.$eval('figure[data-chart="loss"]', (f) => Number(f.getAttribute('data-series')));
      assert.equal(loss, 6, 'loss and val_loss of each run');
      const colours = await page.$$eval('figure[data-chart="loss"] svg .mark-line.role-mark path', (paths) => new Set(paths.map((p) => p.getAttribute('stroke'))).size);
      assert.equal(colours, 3, 'one colour a run');
      await page.selectOption('#x-axis', 'elapsed');
      await page.waitForSelector('figure[data-chart="learning rate"] svg .mark-line path', { state: 'attached' });
      assert.match((await page.textContent('figure[data-chart="learning rate"]'))!, /training time \(s\)/);
      assert.equal(await page.$eval('figure[data-chart="learning rate"]', (f) => f.getAttribute('data-points')), JSON.stringify(lr.points));
      assert.equal(await page.$$eval('#metric-deltas tbody tr', (rows) => rows.length > 0), true);
      assert.match((await page.textContent('#metric-deltas'))!, /\((\+|−)[\d.]+ pt\)/);
      assert.match((await page.textContent('#param-diffs'))!, /train\.epochs/);
      assert.equal(await page.$$eval('#compare-confusion table.confusion', (t) => t.length), 3);
      assert.deepEqual(errors, []);
    });

    it('shows script payloads in a pipeline name, a param and a class name as text, and runs none', async () => {
      await page.goto(new URL('/#/', base).href);
      await page.waitForSelector('#runs tbody tr[data-run]');
      await page.goto(new URL(`/#/run/${EVIL_ID}`, base).href);
      await page.waitForSelector('table.confusion');
      const runText = (await page.textContent('main'))!;
      assert.ok(runText.includes(EVIL_NAME), 'the pipeline name, as written');
      assert.ok(runText.includes(`note=${PAYLOAD_IMG}${PAYLOAD_SCRIPT}`), 'the param, as written');
      assert.ok((await page.textContent('table.confusion'))!.includes(PAYLOAD_IMG + PAYLOAD_SCRIPT), 'the class name, as written');
      await page.goto(new URL(`/#/compare/${EVIL_ID},${runs[0].id}`, base).href);
      await page.waitForSelector('#compare-confusion table.confusion');
      assert.ok((await page.textContent('#param-diffs'))!.includes(PAYLOAD_IMG + PAYLOAD_SCRIPT));
      await page.goto(new URL('/#/', base).href);
      await page.waitForSelector(`#runs tr[data-run="${EVIL_ID}"]`);
      assert.ok((await page.textContent(`#runs tr[data-run="${EVIL_ID}"]`))!.includes(EVIL_NAME));
      assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no payload ran');
      assert.equal(await page.$$eval('main img, main script', (els) => els.length), 0, 'no element made from data');
    });

    it('shows the payloads as text on the mistakes and sweep pages too', async () => {
      const payload = PAYLOAD_IMG + PAYLOAD_SCRIPT;
      await page.goto(new URL(`/#/run/${EVIL_ID}`, base).href);
      await page.waitForSelector('#mistakes-link');
      await page.click('#mistakes-link');
      await page.waitForSelector('#confident-mistakes figure.tile img');
      assert.ok((await page.textContent('table.confusion'))!.includes(payload), 'the class name in the matrix, as written');
      const happy = await page.$$eval('#confident-mistakes figure.tile', (tiles) => tiles.map((t) => [t.getAttribute('data-true'), t.textContent]));
      assert.ok(happy.some(([truth, text]) => truth === payload && text!.includes(payload)), 'the class name on a tile, as written');
      const sources = await page.$$eval('main img', (imgs) => imgs.map((i) => i.getAttribute('src')!));
      assert.ok(sources.length > 0 && sources.every((src) => src.startsWith(`/api/runs/${EVIL_ID}/images/evaluate/`)), sources.join(' '));
      await page.goto(new URL(`/#/sweep/${EVIL_SWEEP}`, base).href);
      await page.waitForSelector('#parallel svg path.line', { state: 'attached' });
      assert.ok((await page.textContent('#variants'))!.includes(payload), 'the swept param, as written');
      assert.ok((await page.textContent('#variants'))!.includes(`v ${PAYLOAD_IMG}`), 'the variant, as written');
      assert.ok((await page.textContent('#parallel'))!.includes(payload), 'the param on its axis, as text');
      assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no payload ran');
      assert.equal(await page.$$eval('main img, main script, svg script, svg image, svg foreignObject', (els) => els.length), 0, 'no element made from data');
      assert.deepEqual(errors, []);
    });

    it("grows a training run's curves in the open page as epochs end, without reloading", async () => {
      await page.goto(new URL('/#/', base).href);
      await page.waitForSelector('#runs tbody tr[data-run]');
      await page.evaluate(() => ((window as unknown as { __loaded: string }).__loaded = 'this page'));
      const training = startPipe(REPO_ROOT, ['run', TINY_PIPELINE, '--set', 'train.epochs=400'], { PIPE_ARTIFACTS: runner.store });
      try {
        await training.waitFor(/train: epoch 1\/400/);
        // The list refreshes itself: the new run appears as running; open it as a user would.
        const link = await page.waitForSelector('#runs tbody tr[data-run]:has(.status-running) a', { timeout: 60_000 });
        await link.click();
        await page.waitForFunction(() => Number(document.querySelector('#epoch-count')?.getAttribute('data-epochs')) > 0, undefined, { timeout: 60_000, polling: 200 });
        const first = Number(await page.getAttribute('#epoch-count', 'data-epochs'));
        await page.waitForFunction(
          (n) => Number(document.querySelector('#epoch-count')?.getAttribute('data-epochs')) > n + 1,
          first,
          { timeout: 60_000, polling: 200 },
        );
        const later = await page.$eval('figure[data-chart="loss"]', (f) => JSON.parse(f.getAttribute('data-points')!) as Record<string, number>);
        assert.ok(Object.values(later).every((n) => n > first), JSON.stringify(later));
        assert.match((await page.textContent('#epoch-count'))!, /live/);
        assert.equal(await page.evaluate(() => (window as unknown as { __loaded?: string }).__loaded), 'this page', 'not reloaded');
      } finally {
        await training.stop();
      }
      // The run ends interrupted: the page says so and stops listening.
      await page.waitForFunction(() => document.querySelector('#run-status')?.textContent === 'interrupted', undefined, { timeout: 60_000, polling: 200 });
      assert.deepEqual(errors, []);
    });
  });

  it('--open hands the URL to the platform opener (xdg-open here)', { skip: process.platform !== 'linux' && 'xdg-open is the opener on Linux only', timeout: 60_000 }, async () => {
    const bin = await mkdtemp(join(tmpdir(), 'pipe-ui-opener-'));
    const opened = join(bin, 'opened.txt');
    await writeFile(join(bin, 'xdg-open'), `#!/bin/sh\nprintf '%s' "$1" > ${JSON.stringify(opened)}.tmp && mv ${JSON.stringify(opened)}.tmp ${JSON.stringify(opened)}\n`, { mode: 0o755 });
    const server = startPipe(REPO_ROOT, ['ui', '--port', '0', '--open'], { PIPE_ARTIFACTS: runner.store, PATH: `${bin}:${process.env.PATH}` });
    try {
      const url = /http:\/\/\S+/.exec(await server.waitFor(/http:\/\/\S+/))![0];
      // The opener runs on its own: wait for its file (an event on the folder, not a delay).
      const { watch } = await import('node:fs');
      await new Promise<void>((resolve) => {
        const watcher = watch(bin, (_, name) => name === 'opened.txt' && (watcher.close(), resolve()));
        void stat(opened).then(() => (watcher.close(), resolve()), () => undefined);
      });
      assert.equal(await readFile(opened, 'utf8'), url);
    } finally {
      await server.stop();
      await rm(bin, { recursive: true, force: true });
    }
  });

  it('serves an empty list over a store that does not exist yet, and does not make it', async () => {
    const missing = join(tmpdir(), `pipe-ui-missing-${process.pid}`);
    const { ui: server, url } = await startUi(missing);
    try {
      const list = (await (await fetch(new URL('/api/runs', url))).json()) as { runs: unknown[]; damaged: unknown[] };
      assert.deepEqual([list.runs, list.damaged], [[], []]);
      await assert.rejects(stat(missing), { code: 'ENOENT' });
    } finally {
      await server.stop();
    }
  });

  it('lists a store of 400 runs in one request, a page of 100 rows at a time', async () => {
    const many = await mkdtemp(join(tmpdir(), 'pipe-ui-many-'));
    const template = runs[0];
    for (let i = 0; i < 400; i++) {
      const record: RunRecord = structuredClone(template);
      record.id = `2026-02-01T00-00-00-${String(i).padStart(3, '0')}Z-${(0x1000 + i).toString(16)}`;
      record.startedAt = `2026-02-01T00:00:00.${String(i).padStart(3, '0')}Z`;
      record.stages.train.params = { ...record.stages.train.params, epochs: 1 + (i % 7) };
      await mkdir(join(many, 'runs', record.id), { recursive: true });
      await writeFile(join(many, 'runs', record.id, 'run.json'), JSON.stringify(record));
    }
    const { ui: server, url } = await startUi(many);
    const browser = await requireChromium();
    try {
      const page = await browser.newPage();
      const api: string[] = [];
      page.on('request', (r) => {
        const path = new URL(r.url()).pathname;
        if (path.startsWith('/api/')) api.push(path);
      });
      await page.goto(url.href);
      await page.waitForSelector('#runs tbody tr[data-run]');
      // A page of 100 rows at a time; sorting covers every run.
      assert.equal(await page.$$eval('#runs tbody tr[data-run]', (rows) => rows.length), 100);
      assert.equal(await page.textContent('#page-range'), 'rows 1–100 of 400');
      assert.deepEqual(api, ['/api/runs']);
      await page.click('button[data-sort="param:train.epochs"]');
      const shownEpochs = () =>
        page.$$eval('#runs tbody tr[data-run]', (rows) => {
          const column = Array.from(document.querySelectorAll('#runs thead th')).findIndex((th) => th.querySelector('[data-sort="param:train.epochs"]'));
          return rows.map((row) => Number(row.children[column].textContent));
        });
      const epochs = await shownEpochs();
      for (const range of ['101–200', '201–300', '301–400']) {
        await page.click('#page-next');
        assert.equal(await page.textContent('#page-range'), `rows ${range} of 400`);
        epochs.push(...(await shownEpochs()));
      }
      assert.ok(await page.isDisabled('#page-next'));
      assert.equal(epochs.length, 400);
      assert.deepEqual(epochs, [...epochs].sort((a, b) => a - b));
      assert.deepEqual([epochs[0], epochs[399]], [1, 7]);
      await page.click('#page-all');
      assert.equal(await page.$$eval('#runs tbody tr[data-run]', (rows) => rows.length), 400);
      assert.deepEqual(api, ['/api/runs'], 'paging and sorting ask the server nothing');
    } finally {
      await browser.close();
      await server.stop();
      await rm(many, { recursive: true, force: true });
    }
  });

  describe('on another address', () => {
    let exposed: PipeProcess;
    let url: URL;
    before(async () => {
      ({ ui: exposed, url } = await startUi(runner.store, ['--host', '0.0.0.0']));
    });
    after(() => exposed?.stop());

    it('prints a token in its URL and refuses every request without it (403)', async () => {
      const token = url.searchParams.get('token');
      assert.ok(token && token.length >= 32, url.href);
      const at = (path: string) => new URL(path, `http://127.0.0.1:${url.port}`).href;
      for (const path of ['/', '/api/runs', `/api/runs/${runs[0].id}`, '/assets/main.js', '/vendor/vega.min.js', `/store/runs/${runs[0].id}/run.json`]) {
        assert.equal((await fetch(at(path))).status, 403, path);
        assert.equal((await fetch(at(`${path}${path.includes('?') ? '&' : '?'}token=wrong${token.slice(5)}`))).status, 403, path);
      }
      const opened = await fetch(at(`/?token=${token}`));
      assert.equal(opened.status, 200);
      const cookie = opened.headers.get('set-cookie')!.split(';')[0];
      assert.equal((await fetch(at('/api/runs'), { headers: { cookie } })).status, 200, 'the page goes on with the cookie');
      assert.equal((await fetch(at('/api/runs'), { headers: { cookie: 'pipe_ui_token=nope' } })).status, 403);
    });

    it('works in a browser opened on the printed URL', async () => {
      const browser = await requireChromium();
      try {
        const page = await browser.newPage();
        const refused: string[] = [];
        page.on('response', (r) => {
          if (r.status() === 403) refused.push(r.url());
        });
        await page.goto(url.href.replace('0.0.0.0', '127.0.0.1'));
        await page.waitForSelector(`#runs tbody tr[data-run="${runs[0].id}"]`);
        await page.goto(new URL(`/#/run/${runs[1].id}`, url.href.replace('0.0.0.0', '127.0.0.1')).href.replace(/\?token=[^#]*/, ''));
        await page.waitForSelector('figure[data-chart="loss"] svg', { state: 'attached' });
        assert.deepEqual(refused, []);
      } finally {
        await browser.close();
      }
    });
  });
});

/** A GET sent as written (fetch would resolve dot segments itself): its status and body. */
async function rawGet(port: string, path: string): Promise<{ status: number; body: string }> {
  const { request } = await import('node:http');
  return new Promise((resolve, reject) =>
    request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString('latin1')));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    })
      .on('error', reject)
      .end(),
  );
}

interface SplitPredictions {
  rows: number[];
  truth: number[];
  predicted: number[];
  probabilities: number[][];
}

// One store, built once: a sweep of the tiny pipeline over two params (2 × 2 variants), served and exported.
describe('pipe ui: mistakes, sweeps and export', () => {
  let runner: PipeRunner;
  let variants: RunRecord[];
  let ui: PipeProcess;
  let base: URL;
  let browser: Browser;
  let page: Page;
  let errors: string[] = [];
  const requests: string[] = [];
  const temporary: string[] = [];

  const predictionsOf = async (record: RunRecord) =>
    (JSON.parse(await readFile(join(runner.store, record.stages.evaluate.outputs.predictions), 'utf8')) as { classes: string[]; splits: { test: SplitPredictions } });

  before(async () => {
    runner = await pipeWithStore('pipe-ui-sweep-');
    const sweep = runner.pipe(['run', TINY_PIPELINE, '--sweep', 'train.epochs=[1,2]', '--sweep', 'build.layers[0].conv2d.filters=[4,8]']);
    assert.equal(sweep.status, 0, sweep.stderr);
    const records: RunRecord[] = [];
    for (const id of await readdir(join(runner.store, 'runs'))) records.push(JSON.parse(await readFile(join(runner.store, 'runs', id, 'run.json'), 'utf8')) as RunRecord);
    variants = records.filter((r) => r.sweep && !r.sweep.shared).sort((a, b) => (a.startedAt < b.startedAt ? -1 : 1));
    assert.equal(variants.length, 4);
    ({ ui, url: base } = await startUi(runner.store));
    ({ browser, page, errors } = await pageWithErrors());
    page.on('request', (r) => requests.push(r.url()));
  });

  after(async () => {
    await browser?.close();
    await ui?.stop();
    await rm(runner.store, { recursive: true, force: true });
    await Promise.all(temporary.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it('serves every scored row of a run as its mistakes data, as predictions.json has them', async () => {
    const run = variants[3];
    const detail = (await (await fetch(new URL(`/api/runs/${run.id}/mistakes`, base))).json()) as { splits: (SplitPredictions & { stage: string; split: string; images?: string; classes: string[] })[] };
    const file = await predictionsOf(run);
    assert.equal(detail.splits.length, 1);
    const [split] = detail.splits;
    assert.deepEqual([split.stage, split.split, split.classes], ['evaluate', 'test', file.classes]);
    assert.deepEqual([split.rows, split.truth, split.predicted, split.probabilities], [file.splits.test.rows, file.splits.test.truth, file.splits.test.predicted, file.splits.test.probabilities]);
    assert.equal(split.images, `/api/runs/${run.id}/images/evaluate/`);
    const image = await fetch(new URL(`${split.images}${split.rows[0]}.png`, base));
    assert.equal(image.status, 200);
    assert.equal(image.headers.get('content-type'), 'image/png');
    const png = Buffer.from(await image.arrayBuffer());
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
  });

  it('serves images only of rows of the evaluated dataset: no .., encoded %2e%2e%2f, absolute paths or rows out of range', async () => {
    const id = variants[0].id;
    const dataset = join(runner.store, variants[0].stages.normalise.outputs.data);
    const attempts = [
      `/api/runs/${id}/images/evaluate/../../../../etc/passwd.png`,
      `/api/runs/${id}/images/evaluate/..%2f..%2f..%2fetc%2fpasswd.png`,
      `/api/runs/${id}/images/evaluate/%2e%2e%2f%2e%2e%2fetc%2fpasswd.png`,
      `/api/runs/${id}/images/%2e%2e%2f%2e%2e%2fnormalise/1.png`,
      `/api/runs/${id}/images/%2Fetc%2Fpasswd/1.png`,
      `/api/runs/${id}/images/${encodeURIComponent(dataset)}/1.png`,
      `/api/runs/${id}/images/evaluate/${encodeURIComponent(dataset)}.png`,
      `/api/runs/..%2f..%2f${id}/images/evaluate/1.png`,
      `/api/runs/${id}/images/train/1.png`,
      `/api/runs/${id}/images/normalise/1.png`,
      `/api/runs/${id}/images/evaluate/420.png`,
      `/api/runs/${id}/images/evaluate/99999999999.png`,
      `/api/runs/${id}/images/evaluate/-1.png`,
      `/api/runs/${id}/images/evaluate/1.5.png`,
      `/api/runs/${id}/images/evaluate/01.png`,
      `/api/runs/${id}/images/evaluate/1e2.png`,
      `/api/runs/${id}/images/evaluate/%31.png%00`,
      `/api/runs/${id}/images/evaluate/%E0%A4%A.png`,
    ];
    for (const path of attempts) {
      const { status, body } = await rawGet(base.port, path);
      assert.ok(status === 404 || status === 400, `${path}: ${status}`);
      assert.doesNotMatch(body, /root:|PNG/, path);
    }
    assert.equal((await rawGet(base.port, `/api/runs/${id}/images/evaluate/419.png`)).status, 200, 'the last row is served');
  });

  it("opens a run's confusion cell on exactly the images of that true class predicted as that class", async () => {
    const run = variants[3];
    const file = await predictionsOf(run);
    const test = file.splits.test;
    // The off-diagonal cell with the most rows.
    const counts = new Map<string, number>();
    test.truth.forEach((t, i) => t !== test.predicted[i] && counts.set(`${t},${test.predicted[i]}`, (counts.get(`${t},${test.predicted[i]}`) ?? 0) + 1));
    const [t, p] = [...counts].sort((a, b) => b[1] - a[1])[0][0].split(',').map(Number);
    const expected = test.rows
      .map((row, i) => ({ row, i }))
      .filter(({ i }) => test.truth[i] === t && test.predicted[i] === p)
      .sort((a, b) => test.probabilities[b.i][p] - test.probabilities[a.i][p] || a.row - b.row);

    await page.goto(new URL(`/#/run/${run.id}`, base).href);
    await page.click(`table.confusion button[data-true="${t}"][data-predicted="${p}"]`);
    await page.waitForSelector('#cell-gallery figure.tile');
    assert.match(page.url(), new RegExp(`#/mistakes/${run.id}/evaluate/test/${t}/${p}$`));
    const tiles = await page.$$eval('#cell-gallery figure.tile', (items) =>
      items.map((f) => ({ row: Number(f.getAttribute('data-row')), truth: f.getAttribute('data-true'), predicted: f.getAttribute('data-predicted'), probability: Number(f.getAttribute('data-probability')) })),
    );
    assert.deepEqual(tiles.map((x) => x.row), expected.map((e) => e.row));
    assert.ok(tiles.every((x) => x.truth === file.classes[t] && x.predicted === file.classes[p]));
    assert.deepEqual(tiles.map((x) => x.probability), expected.map((e) => test.probabilities[e.i][p]));
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('#cell-gallery img')).every((img) => img.complete && img.naturalWidth === 24));
    assert.match((await page.textContent('#cell h2'))!, new RegExp(`True ${file.classes[t]}, predicted ${file.classes[p]}`));

    // Another cell of the same page, clicked there: the diagonal (right predictions).
    await page.click(`table.confusion button[data-true="${t}"][data-predicted="${t}"]`);
    await page.waitForSelector(`#cell[data-predicted="${file.classes[t]}"]`);
    const right = await page.$$eval('#cell-gallery figure.tile', (items) => items.map((f) => Number(f.getAttribute('data-row'))));
    assert.deepEqual(right.sort((a, b) => a - b), test.rows.filter((_, i) => test.truth[i] === t && test.predicted[i] === t).sort((a, b) => a - b));
    assert.deepEqual(errors, []);
  });

  it('lists the most confident mistakes, wrong predictions only, by probability', async () => {
    const run = variants[1];
    const test = (await predictionsOf(run)).splits.test;
    await page.goto(new URL(`/#/mistakes/${run.id}`, base).href);
    // The previous page (another run's mistakes) stays until this one is drawn.
    const gallery = `[data-run="${run.id}"] #confident-mistakes figure.tile`;
    await page.waitForSelector(gallery);
    const tiles = await page.$$eval(gallery, (items) =>
      items.map((f) => ({ row: Number(f.getAttribute('data-row')), truth: f.getAttribute('data-true'), predicted: f.getAttribute('data-predicted'), probability: Number(f.getAttribute('data-probability')) })),
    );
    const wrong = test.rows.map((row, i) => ({ row, i })).filter(({ i }) => test.truth[i] !== test.predicted[i]);
    assert.equal(tiles.length, Math.min(48, wrong.length));
    assert.ok(tiles.every((x) => x.truth !== x.predicted), 'wrong predictions only');
    const probabilities = tiles.map((x) => x.probability);
    assert.deepEqual(probabilities, [...probabilities].sort((a, b) => b - a), 'most confident first');
    const top = wrong.map(({ i }) => test.probabilities[i][test.predicted[i]]).sort((a, b) => b - a);
    assert.deepEqual(probabilities, top.slice(0, tiles.length));
    assert.ok(await page.$('#leaks'), 'the leakage section');
  });

  it('draws a sweep: one line per variant through the swept params and the chosen metric, and a scatter', async () => {
    await page.goto(new URL('/#/', base).href);
    await page.click(`#runs tr[data-run="${variants[0].id}"] a[href^="#/sweep/"]`);
    await page.waitForSelector('#parallel svg path.line', { state: 'attached' });
    const lines = await page.$$eval('#parallel svg path.line', (paths) => paths.map((p) => ({ run: p.getAttribute('data-run'), d: p.getAttribute('d')! })));
    assert.deepEqual(lines.map((l) => l.run).sort(), variants.map((v) => v.id).sort(), 'one line per variant');
    assert.ok(lines.every((l) => l.d.split('L').length === 3), 'through both params and the metric');
    const axes = await page.$$eval('#parallel svg g.axis', (gs) => gs.map((g) => g.getAttribute('data-axis')));
    assert.deepEqual(axes, ['train.epochs', 'build.layers[0].conv2d.filters', 'test.accuracy']);
    assert.equal(await page.$$eval('#scatter svg circle[data-run]', (c) => c.length), 4);

    await page.selectOption('#sweep-metric', 'test.loss');
    await page.waitForSelector('#parallel svg g.axis[data-axis="test.loss"]');
    const losses = await page.$$eval('#variants tbody tr', (rows) => rows.map((r) => [r.getAttribute('data-run'), r.lastElementChild!.textContent]));
    for (const [id, text] of losses) {
      const loss = variants.find((v) => v.id === id)!.metrics!.values['test.loss'];
      assert.equal(Number(text), Number(loss.toPrecision(3)), `${id}: ${text}`);
    }
    await page.selectOption('#sweep-param', 'build.layers[0].conv2d.filters');
    assert.match((await page.textContent('#scatter figcaption'))!, /build\.layers\[0\]\.conv2d\.filters against test\.loss/);
    const ticks = await page.$$eval('#scatter svg text.tick', (t) => t.map((x) => x.textContent));
    assert.ok(ticks.includes('4') && ticks.includes('8'), ticks.join());
    assert.deepEqual(errors, []);
  });

  it('exports the pages as a static site that works from files, offline; refuses a folder that holds files', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pipe-ui-export-'));
    temporary.push(parent);
    const site = join(parent, 'site');
    const exported = runner.pipe(['ui', '--export', site]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.match(exported.stdout, /6 runs, 1 sweeps, \d+ images and 4 reports/);
    assert.deepEqual(await readdir(parent), ['site'], 'nothing left beside it');

    requests.length = 0;
    const index = new URL(`file://${join(site, 'index.html')}`);
    await page.goto(`${index.href}#/`);
    await page.waitForSelector('#runs tbody tr[data-run]');
    assert.equal(await page.$$eval('#runs tbody tr[data-run]', (rows) => rows.length), 6);
    await page.click(`#runs tr[data-run="${variants[2].id}"] td:nth-child(2) a`);
    await page.waitForSelector('figure[data-chart="loss"] svg .mark-line path', { state: 'attached' });
    const epochs = variants[2].stages.train.params.epochs as number;
    assert.equal(await page.$eval('figure[data-chart="loss"]', (f) => f.getAttribute('data-points')), JSON.stringify({ loss: epochs, val_loss: epochs }));
    assert.equal(await page.$$eval('figure[data-chart="loss"] svg .mark-line.role-mark path', (p) => p.length), 2);
    const report = await page.getAttribute('#report-link', 'href');
    assert.ok(report?.startsWith('store/entries/'), report ?? '');
    await stat(join(site, report!));

    await page.click('#mistakes-link');
    await page.waitForSelector('#confident-mistakes figure.tile img');
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLImageElement>('#confident-mistakes img')).every((img) => img.complete && img.naturalWidth === 24));
    await page.click('table.confusion button[data-true="0"][data-predicted="0"]');
    await page.waitForSelector('#cell[data-true]');

    await page.goto(`${index.href}#/sweep/${variants[0].sweep!.id}`);
    await page.waitForSelector('#parallel svg path.line', { state: 'attached' });
    assert.equal(await page.$$eval('#parallel svg path.line', (p) => p.length), 4);

    // Runs picked in the exported runs page compare as with a server: a series a run, the params that differ.
    await page.goto(`${index.href}#/`);
    await page.waitForSelector('#runs tbody tr[data-run]');
    const picked = variants.slice(0, 3);
    for (const r of picked) await page.check(`input[type=checkbox][data-run="${r.id}"]`);
    await page.click('#compare');
    await page.waitForSelector('figure[data-chart="learning rate"] svg .mark-line path', { state: 'attached' });
    assert.equal(await page.$eval('figure[data-chart="learning rate"]', (f) => Number(f.getAttribute('data-series'))), 3);
    const served = await (await fetch(new URL(`/api/compare?runs=${picked.map((r) => r.id).join(',')}`, base))).json();
    const shown = (await page.textContent('#param-diffs'))!;
    for (const row of (served as { comparison: { params: { path: string }[] } }).comparison.params) assert.ok(shown.includes(row.path), `${row.path} in ${shown}`);
    assert.match((await page.textContent('#metric-deltas'))!, /\((\+|−)[\d.]+ pt\)/);
    assert.deepEqual(requests.filter((r) => !r.startsWith('file://')), [], 'nothing but its own files');
    assert.deepEqual(errors, []);

    const again = runner.pipe(['ui', '--export', site]);
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /exists and is not empty[\s\S]*--force/);
    const forced = runner.pipe(['ui', '--export', site, '--force']);
    assert.equal(forced.status, 0, forced.stderr);
    assert.deepEqual(await readdir(parent), ['site']);

    // A dataset damaged after the runs: the export fails, and the site that was there stays as it was.
    const damaged = join(parent, 'store');
    await cp(runner.store, damaged, { recursive: true });
    const arrow = join(damaged, variants[0].stages.normalise.outputs.data);
    await writeFile(arrow, (await readFile(arrow)).subarray(0, 100));
    const before = await snapshot(site);
    const failed = runner.pipe(['ui', '--export', site, '--force'], { env: { PIPE_ARTIFACTS: damaged } });
    assert.notEqual(failed.status, 0);
    assert.deepEqual(await snapshot(site), before);
    assert.deepEqual((await readdir(parent)).sort(), ['site', 'store'], 'no half-written folder left');
    const fresh = runner.pipe(['ui', '--export', join(parent, 'fresh')], { env: { PIPE_ARTIFACTS: damaged } });
    assert.notEqual(fresh.status, 0);
    assert.deepEqual((await readdir(parent)).sort(), ['site', 'store']);
  });
});

describe('pipe ui: names, tags, commits and notes of runs', () => {
  const NAME_SCRIPT = '<script>window.__xss=11</script>';
  const NAME_IMG = '"><img src=x onerror="window.__xss=12">';
  // A tag is one word: the payload without spaces.
  const TAG_IMG = '"><img/src=x/onerror=window.__xss=13>';
  const NOTE = `<script>window.__xss=14</script>\n"><img src=x onerror="window.__xss=15">`;
  const ODD_ID = '2026-01-03T00-00-00-000Z-0dd0';
  const BROKEN_ID = '2026-01-04T00-00-00-000Z-b0ke';
  let project: ToyProject;
  let ui: PipeProcess;
  let base: URL;
  let evil: RunRecord;
  let plain: RunRecord;
  let browser: Browser;

  const pipe = (args: string[]) => {
    const r = project.pipe(args, { GIT_CEILING_DIRECTORIES: dirname(project.dir) });
    assert.equal(r.status, 0, `pipe ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    project = await makeToyProject();
    const git = (...args: string[]) => spawnSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], { cwd: project.dir });
    git('init', '-q');
    git('add', 'pipeline.yaml', 'stages');
    git('commit', '-q', '-m', 'toy');
    plain = JSON.parse(pipe(['run', 'pipeline.yaml', '--json', '--name', 'alpha run', '--tag', 'baseline'])) as RunRecord;
    await writeFile(project.pipeline, `${await readFile(project.pipeline, 'utf8')}# edited\n`);
    evil = JSON.parse(pipe(['run', 'pipeline.yaml', '--json', '--set', 'scale.factor=3', '--name', `${NAME_SCRIPT}${NAME_IMG}`, '--tag', TAG_IMG, '--tag', 'zeta'])) as RunRecord;
    pipe(['runs', 'note', evil.id, NOTE]);
    pipe(['runs', 'note', evil.id, 'second note']);
    const store = join(project.dir, 'artifacts');
    // From a shared store: fields of the wrong shape (left out), and stages that cannot be tabulated (damaged).
    const odd = { ...plain, id: ODD_ID, startedAt: '2026-01-03T00:00:00.000Z', name: 42, tags: 'baseline', notes: [{ at: 1, text: null }, 'x'], git: 'HEAD' };
    const broken = { ...plain, id: BROKEN_ID, startedAt: '2026-01-04T00:00:00.000Z', stages: { source: null } };
    for (const r of [odd, broken]) {
      await mkdir(join(store, 'runs', r.id));
      await writeFile(join(store, 'runs', r.id, 'run.json'), JSON.stringify(r));
    }
    ui = startPipe(project.dir, ['ui', '--port', '0'], { PIPE_ARTIFACTS: store });
    base = new URL(/http:\/\/\S+/.exec(await ui.waitFor(/http:\/\/\S+/))![0]);
    browser = await requireChromium();
  });

  after(async () => {
    await browser?.close();
    await ui?.stop();
    await rm(project.dir, { recursive: true, force: true });
  });

  it('lists name, tags, commit and notes in /api/runs, leaves out fields of the wrong shape, and marks untabulable records damaged', async () => {
    const list = (await (await fetch(new URL('/api/runs', base))).json()) as RunsList;
    const byId = new Map(list.runs.map((r) => [r.id, r]));
    const e = byId.get(evil.id)!;
    assert.equal(e.name, `${NAME_SCRIPT}${NAME_IMG}`);
    assert.deepEqual(e.tags, [TAG_IMG, 'zeta']);
    assert.deepEqual(e.notes?.map((n) => n.text), [NOTE, 'second note']);
    assert.equal(e.git?.dirty, true);
    assert.match(e.git!.commit, /^[0-9a-f]{40}$/);
    assert.deepEqual(byId.get(plain.id)!.git, { commit: e.git!.commit, dirty: false });
    const odd = byId.get(ODD_ID)!;
    assert.deepEqual([odd.name, odd.tags, odd.notes, odd.git], [undefined, undefined, undefined, undefined]);
    assert.ok(list.damaged.includes(BROKEN_ID), list.damaged.join());
    assert.ok(!byId.has(BROKEN_ID));
  });

  it('shows them as text in the runs page and the run page, sorts and filters on them, and runs no payload', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    await page.goto(new URL('/#/', base).href);
    await page.waitForSelector(`#runs tr[data-run="${evil.id}"]`);
    const row = (await page.textContent(`#runs tr[data-run="${evil.id}"]`))!;
    assert.ok(row.includes(`${NAME_SCRIPT}${NAME_IMG}`), 'the name, as written');
    assert.ok(row.includes(TAG_IMG), 'the tag, as written');
    assert.ok(row.includes('second note') && row.includes('(+1)'), 'the latest note, and how many before it');
    assert.ok(row.includes(`${evil.git!.commit.slice(0, 7)}*`), 'the short commit, marked dirty');
    const title = await page.getAttribute(`#runs tr[data-run="${evil.id}"] .note`, 'title');
    assert.ok(title!.includes(NOTE), 'every note on hover');
    assert.ok((await page.textContent(`#runs tr[data-run="${plain.id}"]`))!.includes(plain.git!.commit.slice(0, 7)));
    assert.match((await page.textContent(`#runs tr[data-damaged="${BROKEN_ID}"]`))!, /damaged/);
    const headings = await page.$$eval('#runs thead button', (b) => b.map((x) => x.getAttribute('data-sort')));
    for (const key of ['name', 'tags', 'commit', 'startedAt', 'seconds', 'notes']) assert.ok(headings.includes(key), `a ${key} column: ${headings.join()}`);

    const order = () => page.$$eval('#runs tbody tr[data-run]', (rows) => rows.map((r) => r.getAttribute('data-run')));
    await page.click('button[data-sort="name"]');
    assert.deepEqual(await order(), [evil.id, plain.id, ODD_ID], 'by name; a run without one last');
    await page.click('button[data-sort="name"]');
    assert.deepEqual(await order(), [plain.id, evil.id, ODD_ID]);
    await page.fill('#filter', 'tags:zeta');
    assert.deepEqual(await order(), [evil.id]);
    await page.fill('#filter', 'tags:baseline');
    assert.deepEqual(await order(), [plain.id], 'a record whose tags are not a list has none');
    await page.fill('#filter', 'alpha status:ok');
    assert.deepEqual(await order(), [plain.id]);
    await page.fill('#filter', 'notes:second');
    assert.deepEqual(await order(), [evil.id]);
    await page.fill('#filter', '');

    await page.goto(new URL(`/#/run/${evil.id}`, base).href);
    await page.waitForSelector('#run-notes');
    assert.equal(await page.textContent('#run-name'), `${NAME_SCRIPT}${NAME_IMG}`);
    assert.ok((await page.textContent('#run-tags'))!.includes(TAG_IMG));
    const notes = await page.$$eval('#run-notes li', (items) => items.map((li) => li.textContent));
    assert.equal(notes.length, 2);
    assert.ok(notes[0]!.endsWith(NOTE), notes[0]!);
    assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined, 'no payload ran');
    assert.equal(await page.$$eval('main img, main script', (els) => els.length), 0, 'no element made from data');
    assert.deepEqual(errors, []);
    await page.close();
  });
});
