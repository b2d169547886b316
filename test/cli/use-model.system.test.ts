// Using a trained model: `pipe predict` on PNG files agrees with `evaluate` on the same images (the same
// confusion matrix), `pipe export` writes a model that a fresh Node process loads with plain
// @tensorflow/tfjs through the README's own snippet and classifies with, and unreadable files are reported
// without stopping the rest (unless --strict). Real CLI, real tiny pipeline, real PNG files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import { readDataset, rowsOfSplit } from '../../src/data/image-dataset.js';
import type { RunRecord } from '../../src/runs/record.js';
import { REPO_ROOT } from '../../harness/toy-project.js';
import { pipeWithStore, TINY_PIPELINE, type PipeRunner } from '../support/tiny-pipeline.js';

interface Predicted {
  file: string;
  class?: string;
  probability?: number;
  top?: { class: string; probability: number }[];
  error?: string;
}

describe('export and predict (tiny pipeline)', () => {
  let runner: PipeRunner;
  let record: RunRecord;
  let images: string;
  let classes: string[];
  const truth = new Map<string, number>();

  before(async () => {
    runner = await pipeWithStore();
    const run = runner.pipe(['run', TINY_PIPELINE, '--json']);
    assert.equal(run.status, 0, run.stderr);
    record = JSON.parse(run.stdout) as RunRecord;
    // The test split of the dataset evaluate read, written out as PNG files in one folder per class.
    const ds = await readDataset(join(runner.store, record.stages.normalise.outputs.data));
    classes = ds.classes;
    images = await mkdtemp(join(tmpdir(), 'pipe-predict-images-'));
    const [h, w, c] = ds.shape;
    for (const row of rowsOfSplit(ds, 'test')) {
      const dir = join(images, ds.classes[ds.labels[row]]);
      await mkdir(dir, { recursive: true });
      const file = join(dir, `${String(row).padStart(4, '0')}.png`);
      await sharp(Buffer.from(ds.pixels.subarray(row * h * w * c, (row + 1) * h * w * c)), { raw: { width: w, height: h, channels: c as 1 } })
        .png()
        .toFile(file);
      truth.set(file, ds.labels[row]);
    }
  });

  const predict = (args: string[]) => {
    const r = runner.pipe(['predict', ...args, '--json'], { cwd: images });
    return { status: r.status, stderr: r.stderr, out: r.stdout ? (JSON.parse(r.stdout) as { model: { classes: string[] }; predictions: Predicted[] }) : undefined };
  };

  it('predict on the PNG files gives the confusion matrix evaluate gave on the same images', async () => {
    const r = predict([TINY_PIPELINE, images]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.out!.predictions.length, truth.size);
    const confusion = classes.map(() => classes.map(() => 0));
    for (const p of r.out!.predictions) confusion[truth.get(join(images, p.file))!][classes.indexOf(p.class!)]++;
    const metrics = JSON.parse(await readFile(join(runner.store, record.stages.evaluate.outputs.metrics), 'utf8'));
    assert.deepEqual(confusion, metrics.splits.test.confusion);
    assert.deepEqual(r.out!.model.classes, classes);
  });

  it('exports a model that a fresh process loads with plain @tensorflow/tfjs and classifies with, as predict does', async () => {
    const out = await mkdtemp(join(tmpdir(), 'pipe-export-'));
    const exported = runner.pipe(['export', TINY_PIPELINE, '--out', out]);
    assert.equal(exported.status, 0, exported.stderr);
    const json = JSON.parse(await readFile(join(out, 'model.json'), 'utf8'));
    const meta = json.userDefinedMetadata.pipe;
    assert.deepEqual(meta.classes, classes);
    assert.deepEqual(meta.inputShape, [24, 24, 1]);
    assert.equal(meta.normalisation.mode, 'standardise');
    assert.equal(meta.normalisation.mean.length, 1);
    assert.deepEqual(meta.source, { pipeline: 'tiny', stage: 'train', key: record.stages.train.key, run: record.id });

    // The README's snippet, run as written, in a fresh process that has only @tensorflow/tfjs and sharp.
    const readme = await readFile(join(out, 'README.md'), 'utf8');
    const snippet = /```js\n([\s\S]*?)```/.exec(readme)![1];
    assert.ok(snippet.split('\n').filter(Boolean).length <= 16, 'a short snippet');
    assert.match(snippet, /from '@tensorflow\/tfjs'/);
    await writeFile(join(out, 'classify.mjs'), snippet);
    await symlink(join(REPO_ROOT, 'node_modules'), join(out, 'node_modules'), 'dir');

    const byExport = predict([out, images]).out!.predictions;
    const byPipeline = predict([TINY_PIPELINE, images]).out!.predictions;
    assert.deepEqual(byExport.map((p) => p.class), byPipeline.map((p) => p.class));
    for (const p of byExport.slice(0, 3)) {
      const r = spawnSync(process.execPath, [join(out, 'classify.mjs'), join(images, p.file)], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const [cls, probability] = r.stdout.trim().split('\n').pop()!.split(' ');
      // Backends may round differently: compare the probability the snippet found with predict's for that class.
      const mine = p.top!.find((t) => t.class === cls) ?? { probability: NaN };
      assert.ok(Math.abs(Number(probability) - mine.probability) < 1e-3, `${p.file}: snippet ${cls} ${probability}, predict ${JSON.stringify(p.top)}`);
      assert.ok(Math.abs(Number(probability) - p.probability!) < 1e-3, 'the snippet picks a top class');
    }
  });

  it('reports an unreadable file and carries on; --strict stops at it', async () => {
    const bad = join(images, 'Angry', '0000-broken.png');
    await writeFile(bad, 'not a png');
    try {
      const r = predict([TINY_PIPELINE, images]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /error: cannot read Angry\/0000-broken\.png: /);
      assert.equal(r.out!.predictions.filter((p) => !p.error).length, truth.size);
      const strict = runner.pipe(['predict', TINY_PIPELINE, images, '--strict'], { cwd: images });
      assert.equal(strict.status, 2);
      assert.match(strict.stderr, /error: cannot read Angry\/0000-broken\.png/);
      assert.doesNotMatch(strict.stdout, /Neutral\//, 'stopped before the later folders');
    } finally {
      await import('node:fs/promises').then((fs) => fs.rm(bad));
    }
  });
});
