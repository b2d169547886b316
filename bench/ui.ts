// `npm run bench:ui`: how fast the dashboard is over a big store. It writes a temporary store of --runs synthetic
// run records (default 1,000: five pipelines, varied params and metrics, names, tags and notes on some, some
// failed, some damaged) plus one sweep of --sweep variants (default 100) whose training histories and metrics are
// real files, starts `pipe ui` on a free port, and measures in the system Chromium (playwright-core):
//   - first render of the runs page: navigation start → the table's rows in the document and painted
//   - a compare of 20 runs: 20 ticked, Compare pressed → the three curve charts drawn with every run's lines
//     (the runs page loads the chart scripts while runs are ticked; also timed: pressed before they loaded)
//   - the server's memory: peak resident set (VmHWM in /proc/<pid>/status) and resident set at the end
// Each browser figure is the median of --rounds (default 5), each round in a fresh browser context. Prints a
// Markdown table with the machine's cores and load. Goals: under 1 s each. The figures are of one machine at
// one time: note the load printed beside them.
import { spawn } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import type { HistoryFile } from '../src/formats/history.js';
import type { MetricsFile } from '../src/formats/metrics.js';
import type { RunRecord, StageRecord } from '../src/runs/record.js';
import { option } from './args.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'bin', 'pipe.js');
const RUNS = option('runs', 1000);
const SWEEP = option('sweep', 100);
const ROUNDS = option('rounds', 5);
const COMPARED = 20;

// The system Chromium, as the browser tests find it (the launcher is copied: a benchmark does not import tests).
const CHROMIUM = process.env.PIPE_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const CLASSES = ['Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise', 'Neutral'];
const PIPELINES = ['fer2013-baseline', 'quickstart', 'augment-study', 'wide-cnn', 'tiny'];

/** A small deterministic random source, so every bench run writes the same store. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0').slice(-width);
const key = (i: number, stage: string) => {
  let h = 2166136261;
  for (const c of `${i}:${stage}`) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0;
  return (hex(h, 8) + hex(i, 8)).repeat(4);
};

interface Store {
  dir: string;
  sweepIds: string[];
}

/** history.json and metrics.json of one trained run, under entries/ as the cache keeps them. */
async function writeArtifacts(store: string, train: string, evaluate: string, epochs: number, lr: number, rnd: () => number, accuracy: number): Promise<void> {
  const history: HistoryFile = {
    epochs: Array.from({ length: epochs }, (_, e) => {
      const progress = (e + 1) / epochs;
      return {
        epoch: e + 1,
        loss: 1.9 - 1.2 * progress + rnd() * 0.05,
        accuracy: 0.2 + (accuracy - 0.1) * progress + rnd() * 0.02,
        val_loss: 1.95 - 1.0 * progress + rnd() * 0.08,
        val_accuracy: 0.18 + (accuracy - 0.15) * progress + rnd() * 0.03,
        lr: lr * (1 - 0.5 * progress),
        seconds: 20 + rnd() * 5,
      };
    }),
    bestEpoch: epochs,
    monitor: 'val_loss',
  };
  const confusion = CLASSES.map((_, t) => CLASSES.map((_, p) => (t === p ? Math.round(400 * accuracy) : Math.round(rnd() * 30))));
  const split = { count: 3589, accuracy, balancedAccuracy: accuracy - 0.03, macroF1: accuracy - 0.05, loss: 1.1, classes: CLASSES, confusion, perClass: CLASSES.map((c) => ({ class: c, precision: accuracy, recall: accuracy, f1: accuracy, support: 500 })) };
  const metrics: MetricsFile = { splits: { test: split } };
  for (const [path, value] of [[train, history], [evaluate, metrics]] as const) {
    await mkdir(join(store, path, '..'), { recursive: true });
    await writeFile(join(store, path), JSON.stringify(value));
  }
}

function stage(uses: string, k: string, status: StageRecord['status'], params: Record<string, unknown>, inputs: Record<string, string>, outputs: Record<string, string>, seconds: number): StageRecord {
  return { uses, key: k, status, seconds: status === 'ran' ? seconds : 0, params, inputs, outputs };
}

/** The store: RUNS records (about 1 in 12 failed, 1 in 100 damaged) and a sweep of SWEEP variants. */
async function makeStore(): Promise<Store> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-bench-ui-'));
  const rnd = random(42);
  const start = Date.parse('2026-06-01T00:00:00Z');
  const sweepId = '2026-06-30T00-00-00-000Z-5eep';
  const sweepIds: string[] = [];
  const total = RUNS + SWEEP;
  for (let i = 0; i < total; i++) {
    const inSweep = i >= RUNS;
    const v = i - RUNS;
    const startedAt = new Date(start + i * 137_000).toISOString();
    const id = `${startedAt.replace(/[:.]/g, '-')}-${hex(i, 4)}`;
    const runDir = join(dir, 'runs', id);
    await mkdir(runDir, { recursive: true });
    if (!inSweep && i % 100 === 37) {
      // A record cut off half-way (a run killed while its record was copied).
      await writeFile(join(runDir, 'run.json'), `{"id": "${id}", "pipeline": {"na`);
      continue;
    }
    const pipeline = inSweep ? 'fer2013-baseline' : PIPELINES[i % PIPELINES.length];
    const lr = inSweep ? [0.0005, 0.001, 0.002, 0.004, 0.008][v % 5] : [0.001, 0.002, 0.0005][i % 3];
    const batchSize = inSweep ? [16, 32, 64, 128][Math.floor(v / 5) % 4] : [32, 64][i % 2];
    const filters = inSweep ? [16, 32, 48, 64, 96][Math.floor(v / 20) % 5] : [32, 64][(i >> 1) % 2];
    const epochs = inSweep ? 30 : 5 + (i % 26);
    const failed = !inSweep && i % 12 === 5;
    const accuracy = 0.45 + rnd() * 0.25;
    const trainKey = key(i, 'train');
    const evalKey = key(i, 'evaluate');
    const history = `entries/${trainKey.slice(0, 2)}/${trainKey}/out/history.json`;
    const metricsPath = `entries/${evalKey.slice(0, 2)}/${evalKey}/out/metrics.json`;
    const ingest = key(i % 5, 'ingest');
    const stages: Record<string, StageRecord> = {
      ingest: stage('ingest-csv', ingest, 'cached', { path: 'data/fer2013.csv.gz' }, {}, { dataset: `entries/${ingest.slice(0, 2)}/${ingest}/out/dataset.arrow` }, 0),
      normalise: stage('normalise', key(i % 5, 'normalise'), 'cached', { mode: 'standardise' }, { data: 'ingest' }, { data: 'entries/x/out/data.arrow' }, 0),
      build: stage('build-model', key(i, 'build'), 'ran', { inputShape: [48, 48, 1], layers: [{ conv2d: { filters, kernelSize: 3, activation: 'relu' } }, { maxPooling2d: { poolSize: 2 } }, { flatten: {} }, { dense: { units: 7, activation: 'softmax' } }] }, {}, { model: 'entries/y/out/model' }, 1.2),
      train: stage('train', trainKey, failed ? 'failed' : 'ran', { epochs, batchSize, optimizer: { name: 'adam', learningRate: lr } }, { model: 'build', data: 'normalise' }, failed ? {} : { model: `entries/${trainKey.slice(0, 2)}/${trainKey}/out/model`, history }, epochs * 22),
      evaluate: failed ? stage('evaluate', evalKey, 'skipped', { splits: ['test'] }, { model: 'train', data: 'normalise' }, {}, 0) : stage('evaluate', evalKey, 'ran', { splits: ['test'] }, { model: 'train', data: 'normalise' }, { metrics: metricsPath }, 14),
    };
    if (failed) stages.train.error = 'out of memory: a batch of 64 images at 48×48 did not fit';
    else await writeArtifacts(dir, history, metricsPath, epochs, lr, rnd, accuracy);
    const seconds = Object.values(stages).reduce((s, x) => s + x.seconds, 0);
    const record: RunRecord = {
      id,
      pipeline: { name: pipeline, file: `pipelines/${pipeline}.yaml`, path: `../pipelines/${pipeline}.yaml` },
      ...(inSweep ? { sweep: { id: sweepId, variant: `lr=${lr},batch=${batchSize},filters=${filters}`, sets: [`train.optimizer.learningRate=${lr}`] } } : {}),
      ...(inSweep ? { name: 'lr × batch × filters sweep', tags: ['sweep', 'fer2013'] } : i % 7 === 0 ? { name: `try ${i}: ${['wider conv', 'lower lr', 'more epochs'][i % 3]}` } : {}),
      ...(!inSweep && i % 5 === 0 ? { tags: ['baseline', ...(i % 10 === 0 ? ['fer2013'] : [])] } : {}),
      ...(!inSweep && i % 50 === 0 ? { notes: [{ at: startedAt, text: `overfits after epoch ${epochs - 3}` }] } : {}),
      git: { commit: key(Math.floor(i / 40), 'git').slice(0, 40), dirty: i % 9 === 0 },
      host: ['lab-gpu-1', 'lab-gpu-2', 'laptop'][i % 3],
      pipeVersion: '0.1.0',
      startedAt,
      finishedAt: new Date(start + i * 137_000 + seconds * 1000).toISOString(),
      status: failed ? 'failed' : 'ok',
      owner: { pid: 1000 + i, host: 'deadbeef' },
      seed: 7,
      backend: { requested: 'auto', resolved: 'tensorflow' },
      argv: [`pipelines/${pipeline}.yaml`],
      stages,
      ...(failed
        ? {}
        : {
            metrics: {
              headline: { stage: 'evaluate', split: 'test', accuracy, balancedAccuracy: accuracy - 0.03, macroF1: accuracy - 0.05, loss: 1.1 },
              values: { 'test.accuracy': accuracy, 'test.balancedAccuracy': accuracy - 0.03, 'test.macroF1': accuracy - 0.05 },
            },
          }),
    };
    await writeFile(join(runDir, 'run.json'), JSON.stringify(record, null, 2));
    if (inSweep) sweepIds.push(id);
  }
  return { dir, sweepIds };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** `pipe ui` over the store on a free port: its URL and pid, once it prints the URL. */
async function startUi(store: string): Promise<{ url: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [bin, 'ui', '--port', '0', '--cache', store], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: 'true' } });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /http:\/\/\S+/.exec(out);
      if (m) resolveUrl(m[0]);
    });
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => reject(new Error(`pipe ui exited (${code}):\n${out}`)));
  });
  return {
    url,
    pid: child.pid!,
    stop: () =>
      new Promise<void>((done) => {
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

/** VmHWM and VmRSS of a process, in MiB (Linux). */
async function memoryOf(pid: number): Promise<{ peak: number; now: number } | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { peak: kb('VmHWM') / 1024, now: kb('VmRSS') / 1024 };
  } catch {
    return undefined;
  }
}

// Set in the page before its scripts run: when the first row enters the document, and the frame after (painted).
const WATCH_ROWS = `
new MutationObserver((_, observer) => {
  if (!document.querySelector('#runs tbody tr[data-run]')) return;
  observer.disconnect();
  window.__rowsAt = performance.now();
  requestAnimationFrame(() => setTimeout(() => (window.__paintedAt = performance.now()), 0));
}).observe(document, { subtree: true, childList: true });`;

async function firstRender(browser: Browser, url: string): Promise<{ ms: number; rows: number }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    await page.addInitScript(WATCH_ROWS);
    await page.goto(url, { waitUntil: 'commit' });
    await page.waitForFunction(() => (window as unknown as { __paintedAt?: number }).__paintedAt !== undefined, undefined, { timeout: 60_000, polling: 50 });
    const ms = await page.evaluate(() => (window as unknown as { __paintedAt: number }).__paintedAt);
    const rows = await page.$$eval('#runs tbody tr[data-run]', (r) => r.length);
    // Where the time went: each request's end, and the rows' entry into the document.
    const marks = await page.evaluate(() => ({
      rows: (window as unknown as { __rowsAt: number }).__rowsAt,
      ...Object.fromEntries(performance.getEntriesByType('resource').map((e) => [new URL(e.name).pathname, Math.round((e as PerformanceResourceTiming).responseEnd)])),
    }));
    process.stderr.write(`  first render ${Math.round(ms)} ms: ${Object.entries(marks).map(([k, v]) => `${k} ${Math.round(v)}`).join(', ')}\n`);
    return { ms, rows };
  } finally {
    await context.close();
  }
}

/** Tick `ids` on the runs page, press Compare, and time until the three charts show every run's lines. */
async function compare(browser: Browser, url: string, ids: string[], warm: boolean): Promise<number> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page: Page = await context.newPage();
    await page.goto(url);
    await page.waitForSelector('#runs tbody tr[data-run]', { timeout: 60_000 });
    // A person takes a few seconds to tick 20 runs; the page loads the chart scripts meanwhile.
    if (warm) await page.waitForFunction(() => typeof (window as unknown as { vegaEmbed?: unknown }).vegaEmbed === 'function', undefined, { timeout: 60_000 });
    await page.evaluate((picked) => {
      for (const id of picked) (document.querySelector(`input[type=checkbox][data-run="${id}"]`) as HTMLInputElement).click();
    }, ids);
    return await page.evaluate(
      (n) =>
        new Promise<number>((done, fail) => {
          const t0 = performance.now();
          (document.querySelector('#compare') as HTMLButtonElement).click();
          const drawn = () => {
            const charts = Array.from(document.querySelectorAll('#curves figure.chart'));
            return charts.length === 3 && charts.every((f) => f.querySelectorAll('svg .mark-line.role-mark path').length >= n);
          };
          const look = () => {
            if (drawn()) {
              const api = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/compare')) as PerformanceResourceTiming | undefined;
              (window as unknown as { __compareApi?: number }).__compareApi = api ? api.responseEnd - t0 : undefined;
              (window as unknown as { __chartsIn?: number }).__chartsIn = performance.now() - t0;
              requestAnimationFrame(() => done(performance.now() - t0));
            }
            else if (performance.now() - t0 > 60_000) fail(new Error('the compare page did not draw its curves in 60 s'));
            else requestAnimationFrame(look);
          };
          look();
        }),
      ids.length,
    ).then(async (ms) => {
      const marks = await page.evaluate(() => [(window as unknown as { __compareApi?: number }).__compareApi, (window as unknown as { __chartsIn?: number }).__chartsIn]);
      process.stderr.write(`  compare ${Math.round(ms)} ms: /api/compare answered at ${Math.round(marks[0] ?? NaN)} ms, charts in the document at ${Math.round(marks[1] ?? NaN)} ms\n`);
      return ms;
    });
  } finally {
    await context.close();
  }
}

async function main(): Promise<void> {
  await access(CHROMIUM).catch(() => {
    throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set PIPE_CHROMIUM)`);
  });
  const load = loadavg();
  const made = performance.now();
  const store = await makeStore();
  process.stderr.write(`store of ${RUNS} runs and a ${SWEEP}-run sweep written in ${((performance.now() - made) / 1000).toFixed(1)} s: ${store.dir}\n`);
  const ui = await startUi(store.dir);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  try {
    // The list API alone, cold (first request: every record read) and warm (records cached by mtime).
    const api: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      bytes = (await (await fetch(new URL('/api/runs', ui.url))).text()).length;
      api.push(performance.now() - t0);
    }
    const renders: number[] = [];
    let rows = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const r = await firstRender(browser, ui.url);
      renders.push(r.ms);
      rows = r.rows;
    }
    const picked = store.sweepIds.slice(0, COMPARED);
    const compares: number[] = [];
    for (let i = 0; i < ROUNDS; i++) compares.push(await compare(browser, ui.url, picked, true));
    const coldCompares: number[] = [];
    for (let i = 0; i < ROUNDS; i++) coldCompares.push(await compare(browser, ui.url, picked, false));
    const memory = await memoryOf(ui.pid);
    const end = loadavg();
    const cores = cpus().length;
    const loaded = Math.max(load[0], end[0]) > cores / 2;
    const ms = (x: number) => `${Math.round(x)} ms`;
    const spread = (xs: number[]) => `${ms(median(xs))} (${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;
    const total = RUNS + SWEEP;
    const lines = [
      `| ${total.toLocaleString('en')} runs (${RUNS} + a ${SWEEP}-run sweep) | goal | median of ${ROUNDS} (min–max) |`,
      '| --- | --- | --- |',
      `| runs page, navigation → ${rows} rows painted | < 1 s | ${spread(renders)} |`,
      `| compare ${COMPARED} runs, click → curves drawn | < 1 s | ${spread(compares)} |`,
      `| the same, clicked before the chart scripts loaded | | ${spread(coldCompares)} |`,
      `| \`/api/runs\` (${(bytes / 1024).toFixed(0)} KiB), first request / warm | | ${ms(api[0])} / ${ms(median(api.slice(1)))} |`,
      `| server memory, peak (VmHWM) / at the end (VmRSS) | | ${memory ? `${memory.peak.toFixed(0)} MiB / ${memory.now.toFixed(0)} MiB` : 'no /proc here'} |`,
    ];
    process.stdout.write(`${lines.join('\n')}\n\n`);
    process.stdout.write(
      `${cores} cores (${cpus()[0]?.model.trim() ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB; load average ${load[0].toFixed(2)} before, ` +
        `${end[0].toFixed(2)} after: ${loaded ? 'loaded (other work was running)' : 'quiet'}. Chromium headless, viewport 1280×800.\n`,
    );
  } finally {
    await browser.close();
    await ui.stop();
    await rm(store.dir, { recursive: true, force: true });
  }
}

await main();
