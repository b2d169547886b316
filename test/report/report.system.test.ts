// The report stage for real: a real Arrow dataset oversampled by the real oversample stage, JSON inputs in the
// shapes the build-model, train, evaluate and leakage-check stages write; the page checked in headless Chromium.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { encodeDataset, type ImageDataset } from '../../src/data/image-dataset.js';
import type { PipelineInfo, Stage } from '../../src/stage.js';
import oversample from '../../stages/oversample.js';
import leakageCheck from '../../stages/leakage-check.js';
import report from '../../stages/report.js';
import { confidentMistakes, precisionRecallCurves } from '../../src/report/predictions.js';
import { launchChromium } from '../support/chromium.js';
import { runStage as runInHarness, type HarnessOptions, type HarnessResult } from '../../harness/stage-harness.js';

const temporary: string[] = [];
after(() => Promise.all(temporary.map((dir) => rm(dir, { recursive: true, force: true }))));

/** The harness, remembering its temp folders so they are removed after the tests. */
async function runStage(stage: Stage, options: HarnessOptions = {}): Promise<HarnessResult> {
  const result = await runInHarness(stage, options);
  temporary.push(join(result.outDir, '..'));
  return result;
}

const EVIL = '<script>alert(1)</script>';
const CLASSES = ['angry', 'disgust', EVIL, 'happy'];

/** What the report is told about its pipeline (the harness passes it as a run would). */
const PIPELINE: PipelineInfo = {
  name: `fer <b>bold</b>`,
  backend: { requested: 'auto', resolved: 'wasm' },
  upstream: {
    ingest: { uses: 'fer2013-csv', key: 'a'.repeat(64), params: { path: 'data/<x>.csv.gz' } },
    oversample: { uses: 'oversample', key: 'b'.repeat(64), params: { strategy: 'auto', splits: ['train'] } },
    train: { uses: 'train', key: 'c'.repeat(64), params: { epochs: 4, optimizer: { adam: { lr: 0.001 } } } },
  },
};

async function fixtures(): Promise<Record<string, string>> {
  const dir = await mkdtemp(join(tmpdir(), 'pipe-report-fixtures-'));
  temporary.push(dir);
  // 4 classes, imbalanced train split, a small test split.
  const trainLabels = [0, 0, 0, 0, 1, 2, 2, 3, 3, 3, 3, 3];
  const testLabels = [0, 1, 2, 3, 3];
  const labels = Uint8Array.from([...trainLabels, ...testLabels]);
  const n = labels.length;
  const ds: ImageDataset = {
    shape: [2, 2, 1],
    classes: CLASSES,
    labels,
    // Every row its own image, except two test rows that repeat train images: row 12 = row 0 (same label),
    // row 14 = row 4 (another label, a conflict). The source data's own duplicates, as FER2013 has them.
    pixels: Uint8Array.from({ length: n * 4 }, (_, i) => ({ 12: 0, 14: 4 } as Record<number, number>)[i >> 2] ?? i >> 2),
    splitNames: ['train', 'test'],
    splitCodes: Int8Array.from(labels, (_, i) => (i < trainLabels.length ? 0 : 1)),
    source: Uint32Array.from(labels, (_, i) => i),
    metadata: {},
  };
  const data = join(dir, 'data.arrow');
  await writeFile(data, encodeDataset(ds));
  const resampled = await runStage(oversample, { inputs: { data }, params: { strategy: 'auto', splits: ['train'] }, seed: 3 });
  const leakage = await runStage(leakageCheck, { inputs: { data: resampled.outputs.data } });

  const history = Array.from({ length: 6 }, (_, i) => ({
    epoch: i + 1,
    loss: 1.9 - i * 0.25,
    accuracy: 0.3 + i * 0.1,
    val_loss: 1.95 - i * 0.15,
    val_accuracy: 0.28 + i * 0.06,
    lr: 0.001,
    seconds: 12.5,
  }));
  const confusion = [
    [30, 2, 5, 3],
    [4, 6, 1, 1],
    [6, 1, 25, 8],
    [2, 0, 4, 50],
  ];
  const perClass = CLASSES.map((c, k) => {
    const support = confusion[k].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[k], 0);
    const precision = confusion[k][k] / predicted;
    const recall = confusion[k][k] / support;
    return { class: c, precision, recall, f1: (2 * precision * recall) / (precision + recall), support };
  });
  const split = (accuracy: number) => ({
    count: 148,
    loss: 1.02,
    accuracy,
    balancedAccuracy: 0.61,
    macroF1: 0.6,
    perClass,
    classes: CLASSES,
    confusion,
  });
  // The shapes the train and evaluate stages write.
  const files: Record<string, unknown> = {
    'history.json': { epochs: history, bestEpoch: 6, monitor: 'val_loss', stoppedEarly: false },
    'metrics.json': { splits: { validation: split(0.66), test: split(0.7432) }, backend: 'wasm', precision: 'bf16' },
    'reference.json': { splits: { test: { ...split(0.83), balancedAccuracy: 0.82, macroF1: 0.81 } }, backend: 'wasm' },
    'summary.json': {
      inputShape: [null, 48, 48, 1],
      layers: [
        { name: 'conv2d_1', className: 'Conv2D', outputShape: [null, 48, 48, 32], params: 320, trainableParams: 320 },
        { name: `dense_${EVIL}`, className: 'Dense', outputShape: [null, 4], params: 516, trainableParams: 516 },
      ],
      totalParams: 836,
      trainableParams: 836,
      nonTrainableParams: 0,
    },
  };
  // What evaluate writes for the 5 test rows (12..16 of `data`): three of them wrong, at probabilities .9, .6, .4.
  files['predictions.json'] = {
    format: 'pipe-predictions/1',
    classes: CLASSES,
    splits: {
      test: {
        rows: [12, 13, 14, 15, 16],
        source: [12, 13, 14, 15, 16],
        truth: [0, 1, 2, 3, 3],
        predicted: [0, 3, 0, 3, 2],
        probabilities: [
          [0.7, 0.1, 0.1, 0.1],
          [0.1, 0.2, 0.1, 0.6],
          [0.9, 0, 0.05, 0.05],
          [0.1, 0.1, 0.1, 0.7],
          [0.2, 0.1, 0.4, 0.3],
        ],
      },
    },
  };
  const paths: Record<string, string> = { resampled: resampled.outputs.data, leakage: leakage.outputs.report, images: data };
  for (const [name, value] of Object.entries(files)) {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(value));
    paths[name.replace('.json', '')] = path;
  }
  return paths;
}

let full: Promise<HarnessResult> | undefined;
/** The report with every input connected (made once, shared by the tests below). */
function fullReport(): Promise<HarnessResult> {
  full ??= fixtures().then((p) =>
    runStage(report, {
      pipeline: PIPELINE,
      params: { title: 'FER2013 honest protocol', label: 'honest', referenceLabel: 'leaky (paper)' },
      inputs: { resampled: p.resampled, leakage: p.leakage, summary: p.summary, history: p.history, metrics: p.metrics, reference: p.reference, predictions: p.predictions, images: p.images },
    }),
  );
  return full;
}

test('report writes html, markdown and every chart as SVG and PNG', async () => {
  const result = await fullReport();
  const charts = (await readdir(result.outputs.charts)).sort();
  assert.deepEqual(charts, ['accuracy.png', 'accuracy.svg', 'confusion.png', 'confusion.svg', 'loss.png', 'loss.svg', 'lr.png', 'lr.svg', 'pr.png', 'pr.svg']);
  for (const name of ['accuracy', 'loss', 'lr', 'confusion', 'pr']) {
    const meta = await sharp(join(result.outputs.charts, `${name}.png`)).metadata();
    assert.equal(meta.format, 'png');
    assert.ok((meta.width ?? 0) > 300 && (meta.height ?? 0) > 200, `${name}.png is ${meta.width}×${meta.height}`);
  }
  assert.deepEqual(result.summary && (result.summary as { sections: string[] }).sections, ['classCounts', 'leakage', 'model', 'history', 'metrics', 'reference', 'predictions']);
  assert.equal((result.summary as { leaky: boolean }).leaky, true);
  assert.match(await readFile(result.outputs.html, 'utf8'), /<figcaption>The learning rate of each epoch\.<\/figcaption>/);
});

test('report.html is self-contained and escapes everything taken from data', async () => {
  const html = await readFile((await fullReport()).outputs.html, 'utf8');
  assert.ok(!/<script/i.test(html), 'no script element');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), 'class name shown escaped');
  assert.ok(html.includes('fer &lt;b&gt;bold&lt;/b&gt;'), 'pipeline name escaped');
  assert.ok(html.includes('data/&lt;x&gt;.csv.gz'), 'params escaped');
  assert.ok(!html.includes('<b>bold</b>'));
  // Nothing is loaded from anywhere: no src/href to a URL, no CSS url() to one (in-page #fragments and the
  // leakage examples' inline PNG thumbnails are fine).
  assert.deepEqual(html.match(/\b(?:src|href|xlink:href)\s*=\s*"(?!#|data:image\/png;base64,)[^"]*"/gi) ?? [], []);
  assert.ok(html.includes('<img src="data:image/png;base64,'), 'example thumbnails inline');
  assert.deepEqual(html.match(/url\((?!#)[^)]*\)/gi) ?? [], []);
  assert.ok(!/@import/i.test(html));
  for (const section of ['Pipeline', 'Class counts', 'Leakage check', 'Model', 'Training curves', 'Evaluation', 'Compared with leaky (paper)']) {
    assert.ok(html.includes(`>${section}</h2>`), `section ${section}`);
  }
  assert.ok(html.includes('Leak: 2 images occur in more than one split'), 'leak banner');
  assert.ok(html.includes('1 group of identical images carry different labels'), 'label conflict');
  assert.ok(html.includes('74.3%'), 'headline accuracy');
  assert.ok(html.includes('+8.7 pp'), 'difference to the reference');
  assert.ok(html.includes(`title="${'c'.repeat(64)}"`), 'upstream cache keys');
  // A cached report is shown by later runs and on other machines: nothing of the run that built it.
  assert.ok(!/\b(?:run|started|generated)\b[^<]*\d{4}-\d\d-\d\d/i.test(html), 'no run id or time');
  assert.ok(html.includes('Best epoch by val_loss: 6.'), 'facts from history.json beside the epochs');
  assert.ok(
    html.includes('<p id="inference-precision">Inferred with convolutions and matrix products in bf16 (fp32 accumulation).</p>'),
    "the precision metrics.json says evaluate inferred in, beside the metrics",
  );
});

test('summary.md carries the metrics table, leakage verdict, reference and class counts', async () => {
  const md = await readFile((await fullReport()).outputs.markdown, 'utf8');
  assert.match(md, /^## FER2013 honest protocol$/m);
  assert.match(md, /^> ⚠️ \*\*Leak: 2 images occur in more than one split\.\*\* train × test: 2 images \(\d+ train rows, 2 test rows\)/m);
  assert.match(md, /^\| test \| 74\.3% \| 61\.0% \| 0\.600 \| 1\.020 \| 148 \|$/m);
  assert.match(md, /^\| accuracy \| 74\.3% \| 83\.0% \| \+8\.7 pp \|$/m);
  assert.match(md, /^Inferred with convolutions and matrix products in bf16 \(fp32 accumulation\)\.$/m);
  // train split: happy is the majority (5), 'auto' raises the others to 5; test is left alone.
  assert.match(md, /^\| disgust \| 1 \| 5 \|$/m);
  assert.ok(md.includes('&lt;script&gt;alert(1)&lt;/script&gt;'), md);
  assert.ok(!md.includes('<script>'));
});

test('precision-recall curves rank rows by the class probability; mistakes sort by the probability of the wrong class', async () => {
  const split = JSON.parse(await readFile((await fixtures()).predictions, 'utf8')).splits.test;
  const curves = precisionRecallCurves(split, CLASSES);
  assert.deepEqual(curves.map((c) => [c.class, c.positives]), [['angry', 1], ['disgust', 1], [EVIL, 1], ['happy', 2]]);
  // happy: rows ranked 15 (.7, happy), 13 (.6), 16 (.3, happy), 12, 14.
  const happy = curves[3];
  assert.deepEqual(happy.points, [{ recall: 0.5, precision: 1 }, { recall: 1, precision: 2 / 3 }]);
  assert.ok(Math.abs(happy.averagePrecision - (0.5 + 0.5 * (2 / 3))) < 1e-9);
  assert.deepEqual(confidentMistakes(split, 2).map((m) => [m.row, m.probability]), [[14, 0.9], [13, 0.6]]);
});

test('without the evaluated dataset the mistakes are listed without images, and a note says why', async () => {
  const p = await fixtures();
  const result = await runStage(report, { pipeline: PIPELINE, inputs: { metrics: p.metrics, predictions: p.predictions } });
  const html = await readFile(result.outputs.html, 'utf8');
  assert.equal(html.match(/class="mistake"/g)?.length, 3);
  assert.ok(!html.includes('<img'), 'no images');
  assert.ok(html.includes('no `images` input (the evaluated dataset) was connected'));
  assert.ok((await readdir(result.outputs.charts)).includes('pr.svg'));
});

test('a report with no inputs still comes out, saying what is not shown', async () => {
  const result = await runStage(report, { pipeline: PIPELINE });
  const html = await readFile(result.outputs.html, 'utf8');
  assert.ok(html.includes('>Not shown</h2>'));
  assert.ok(html.includes('no training `history` input was connected'));
  assert.ok(!html.includes('>Evaluation</h2>'));
  assert.deepEqual(await readdir(result.outputs.charts), []);
  const md = await readFile(result.outputs.markdown, 'utf8');
  assert.match(md, /Not shown/);
});

test('a malformed input becomes a note, and the other sections still render', async () => {
  const p = await fixtures();
  const broken = join(p.history, '..', 'broken.json');
  await writeFile(broken, '{"epochs": ');
  const result = await runStage(report, { pipeline: PIPELINE, inputs: { history: broken, metrics: p.metrics } });
  const html = await readFile(result.outputs.html, 'utf8');
  assert.match(html, /training history at .*broken\.json could not be read/);
  assert.ok(html.includes('>Evaluation</h2>'));
  assert.deepEqual((await readdir(result.outputs.charts)).sort(), ['confusion.png', 'confusion.svg']);
});

test('report.html renders in headless Chromium: charts drawn, no script, no network, no console errors', async (t) => {
  const launched = await launchChromium();
  if ('skip' in launched) {
    t.skip(launched.skip);
    return;
  }
  const { browser } = launched;
  try {
    const result = await fullReport();
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('request', (r) => requests.push(r.url()));
    const url = pathToFileURL(result.outputs.html).href;
    await page.goto(url, { waitUntil: 'load' });

    const charts = await page.$$eval('figure svg', (svgs) =>
      svgs.map((svg) => {
        const box = svg.getBoundingClientRect();
        return {
          width: box.width,
          height: box.height,
          lines: svg.querySelectorAll('.mark-line.role-mark path').length,
          cells: svg.querySelectorAll('.mark-rect.role-mark path').length,
          texts: svg.querySelectorAll('.mark-text.role-mark text').length,
        };
      }),
    );
    assert.equal(charts.length, 5, 'accuracy, loss, learning-rate, confusion and precision-recall charts');
    for (const c of charts) assert.ok(c.width > 100 && c.height > 100, JSON.stringify(c));
    assert.equal(charts[0].lines, 2, 'accuracy: train and validation lines');
    assert.equal(charts[1].lines, 2, 'loss: train and validation lines');
    assert.equal(charts[2].lines, 1, 'learning rate: one line');
    assert.equal(charts[3].cells, CLASSES.length ** 2, 'one confusion cell per class pair');
    assert.equal(charts[3].texts, CLASSES.length ** 2, 'a count in every cell');
    assert.equal(charts[4].lines, CLASSES.length, 'a precision-recall curve per class');
    const legend = await page.$$eval('figure svg', (svgs) => Array.from(svgs[4].querySelectorAll('.role-legend-label text'), (t) => t.textContent));
    assert.deepEqual(legend, CLASSES, 'each class in the legend, its name as text');
    // The gallery: the wrong predictions only, most confident first, each with its image.
    const gallery = await page.$$eval('#mistakes .mistake', (items) =>
      items.map((m) => ({ row: m.getAttribute('data-row'), truth: m.getAttribute('data-true'), predicted: m.getAttribute('data-predicted'), img: m.querySelector('img')?.naturalWidth ?? 0 })),
    );
    assert.deepEqual(gallery.map((g) => g.row), ['14', '13', '16']);
    assert.ok(gallery.every((g) => g.truth !== g.predicted && g.img > 0), JSON.stringify(gallery));
    assert.deepEqual(gallery.map((g) => [g.truth, g.predicted]), [[EVIL, 'angry'], ['disgust', 'happy'], ['happy', EVIL]]);

    assert.equal(await page.locator('script').count(), 0, 'no script element was injected');
    assert.ok((await page.textContent('body'))!.includes(EVIL), 'the class name is shown as text');
    assert.equal(await page.locator('.banner.warn').first().isVisible(), true, 'leak banner visible');
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [url], 'the page loads nothing but itself');
    if (process.env.PIPE_REPORT_SCREENSHOT) await page.screenshot({ path: process.env.PIPE_REPORT_SCREENSHOT, fullPage: true });
  } finally {
    await browser.close();
  }
});
