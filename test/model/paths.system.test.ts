// A model folder names its weights files in model.json, and model folders arrive from other machines (a remote
// cache entry, a copied export). A weights path that leads out of the folder (`../outside.bin`, an absolute
// path, `sub/../../x`, a symbolic link) is refused by `pipe export` (which then writes nothing, outside --out or
// in it), by `pipe predict` and by the stages that load models, before any file it names is read; a checkpoint
// manifest naming a file outside its checkpoint counts as damage. The weights the bad paths point at are real,
// so without the checks every one of these would succeed. Real files, real CLI child processes.
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import sharp from 'sharp';
import buildModel from '../../stages/build-model.js';
import evaluate from '../../stages/evaluate.js';
import { writeDataset } from '../../src/data/image-dataset.js';
import { PipeError } from '../../src/errors.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { EXPORT_FORMAT, type ExportedModelInfo } from '../../src/model/exported-model.js';
import { loadModel } from '../../src/model/model-io.js';
import { loadTf } from '../../src/tf/backend.js';
import { runStage } from '../../harness/stage-harness.js';
import { pipeWithStore, type PipeRunner } from '../support/tiny-pipeline.js';

const INFO: ExportedModelInfo = {
  format: EXPORT_FORMAT,
  classes: ['dark', 'light'],
  inputShape: [2, 2, 1],
  preprocessing: { colour: 'grey', fit: 'fill' },
  normalisation: { mode: 'scale', scale: 1 / 255, mean: [0], std: [1] },
  source: { pipeline: 'paths', stage: 'train', key: 'f'.repeat(64), run: 'r1' },
};

/** Every file under `dir` (relative paths) with its bytes, to see that nothing changed or appeared. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    out[file.slice(dir.length + 1)] = (await readFile(file)).toString('base64');
  }
  return out;
}

describe('weights paths of a model folder stay inside it', () => {
  let runner: PipeRunner;
  /** A sound export folder: model.json with userDefinedMetadata.pipe, weights.bin. */
  let sound: string;
  let image: string;

  before(async () => {
    runner = await pipeWithStore('pipe-model-paths-');
    const built = await runStage(buildModel, {
      params: { inputShape: [2, 2, 1], layers: [{ flatten: null }, { dense: { units: 2, activation: 'softmax' } }] },
      backend: 'cpu',
    });
    sound = built.outputs.model;
    const json = JSON.parse(await readFile(join(sound, 'model.json'), 'utf8'));
    json.userDefinedMetadata = { pipe: INFO };
    await writeFile(join(sound, 'model.json'), JSON.stringify(json));
    const root = await mkdtemp(join(tmpdir(), 'pipe-model-paths-image-'));
    image = join(root, 'face.png');
    await sharp(Buffer.from([0, 255, 0, 255]), { raw: { width: 2, height: 2, channels: 1 } }).png().toFile(image);
  });

  /**
   * A temp root holding `model/`, whose model.json names `weightsPath`; the real weights are put where that path
   * leads (`place` gives the file, relative to the root unless absolute), so following the path would work.
   */
  async function tampered(weightsPath: string, place: string): Promise<{ root: string; model: string }> {
    const root = await mkdtemp(join(tmpdir(), 'pipe-model-paths-'));
    const model = join(root, 'model');
    await mkdir(model);
    const json = JSON.parse(await readFile(join(sound, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = [weightsPath];
    await writeFile(join(model, 'model.json'), JSON.stringify(json));
    const target = place.startsWith('/') ? place : join(root, place);
    await mkdir(join(target, '..'), { recursive: true });
    await copyFile(join(sound, 'weights.bin'), target);
    return { root, model };
  }

  const outside = async (): Promise<[string, string, string][]> => {
    const abs = join(await mkdtemp(join(tmpdir(), 'pipe-model-paths-abs-')), 'weights.bin');
    return [
      ['../outside.bin', '../outside.bin', 'outside.bin'],
      ['an absolute path', abs, abs],
      ['sub/../../x', 'sub/../../x', 'x'],
      ['a URL', 'file:///etc/passwd', 'unused.bin'],
      ['a backslash path', '..\\outside.bin', 'outside.bin'],
    ];
  };

  it('a sound folder exports and predicts, weights in a subfolder included (the checks let plain paths through)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'pipe-model-paths-sub-'));
    const model = join(root, 'model');
    await mkdir(join(model, 'shards'), { recursive: true });
    const json = JSON.parse(await readFile(join(sound, 'model.json'), 'utf8'));
    json.weightsManifest[0].paths = ['shards/weights.bin'];
    await writeFile(join(model, 'model.json'), JSON.stringify(json));
    await copyFile(join(sound, 'weights.bin'), join(model, 'shards', 'weights.bin'));
    const out = join(root, 'out');
    const exported = runner.pipe(['export', model, '--out', out]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.deepEqual(Object.keys(await snapshot(out)).sort(), ['README.md', 'model.json', 'shards/weights.bin']);
    const predicted = runner.pipe(['predict', out, image, '--json']);
    assert.equal(predicted.status, 0, predicted.stderr);
    assert.equal(JSON.parse(predicted.stdout).predictions.length, 1);
  });

  it('export refuses a weights path outside the model folder and writes nothing, outside --out or in it', async () => {
    for (const [label, path, place] of await outside()) {
      const { root, model } = await tampered(path, place);
      const before = await snapshot(root);
      const out = join(root, 'exports', 'out');
      const r = runner.pipe(['export', model, '--out', out]);
      assert.equal(r.status, 2, `${label}: ${r.stderr}${r.stdout}`);
      assert.match(r.stderr, /model\.json names the weights file .*, which is not inside the model folder/, label);
      assert.match(r.stderr, /hint: model\.json may name only files in its own folder/, label);
      assert.deepEqual(await snapshot(root), before, `${label}: no file written or changed`);
      assert.deepEqual(await readdir(root), ['model', ...(place.startsWith('/') ? [] : [place.split('/')[0]])].sort(), label);
    }
  });

  it('predict refuses a weights path outside the model folder and classifies nothing', async () => {
    for (const [label, path, place] of await outside()) {
      const { model } = await tampered(path, place);
      const r = runner.pipe(['predict', model, image]);
      assert.equal(r.status, 2, `${label}: ${r.stderr}${r.stdout}`);
      assert.match(r.stderr, /which is not inside the model folder/, label);
      assert.equal(r.stdout, '', label);
    }
  });

  it('a weights file that is a symbolic link out of the folder is refused by export, predict and model loading', async () => {
    const { root, model } = await tampered('weights.bin', 'elsewhere/weights.bin');
    await symlink(join(root, 'elsewhere', 'weights.bin'), join(model, 'weights.bin'));
    const exported = runner.pipe(['export', model, '--out', join(root, 'out')]);
    assert.equal(exported.status, 2, exported.stderr);
    assert.match(exported.stderr, /"weights\.bin", which is not inside the model folder \(leads out of the folder through a symbolic link\)/);
    assert.deepEqual(await readdir(root), ['elsewhere', 'model']);
    const predicted = runner.pipe(['predict', model, image]);
    assert.equal(predicted.status, 2, predicted.stderr);
    assert.match(predicted.stderr, /leads out of the folder through a symbolic link/);
    const { tf } = await loadTf('cpu');
    await assert.rejects(loadModel(tf, model), (err: unknown) => err instanceof PipeError && /symbolic link/.test(err.message));
  });

  it('a stage that loads a model (evaluate) refuses one whose weights path leads outside', async () => {
    const { root, model } = await tampered('../outside.bin', 'outside.bin');
    const data = join(root, 'data.arrow');
    await writeDataset(data, {
      shape: [2, 2, 1],
      classes: INFO.classes,
      labels: Uint8Array.from([0, 1]),
      pixels: new Uint8Array(8),
      splitNames: ['test'],
      splitCodes: Int8Array.from([0, 0]),
      source: Uint32Array.from([0, 1]),
      metadata: {},
    });
    await assert.rejects(
      runStage(evaluate, { params: { splits: ['test'] }, inputs: { model, data }, backend: 'cpu' }),
      (err: unknown) => err instanceof PipeError && /names the weights file "\.\.\/outside\.bin", which is not inside the model folder \(has a '\.\.' segment\)/.test(err.message),
    );
  });

  it("a checkpoint whose manifest names a file outside it is damaged: reported, removed, the previous one used", async () => {
    const scratch = await mkdtemp(join(tmpdir(), 'pipe-model-paths-checkpoint-'));
    const bundle = (v: number) => ({ weights: [{ name: 'w', shape: [1], dtype: 'float32' as const, data: Float32Array.of(v) }] });
    await saveCheckpoint(scratch, 1, { state: { epoch: 1 }, bundles: bundle(1) });
    await saveCheckpoint(scratch, 2, { state: { epoch: 2 }, bundles: bundle(2) });
    // The latest checkpoint's manifest, rewritten to read its weights from next to the scratch folder.
    const manifestFile = join(scratch, 'checkpoint-2', 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    await copyFile(join(scratch, 'checkpoint-2', 'weights.bin'), join(scratch, '..', `${scratch.split('/').pop()}-weights.bin`));
    manifest.files[`../../${scratch.split('/').pop()}-weights.bin`] = manifest.files['weights.bin'];
    await writeFile(manifestFile, JSON.stringify(manifest));
    const damaged: { epoch: number; reason: string }[] = [];
    const loaded = await loadCheckpoint<{ epoch: number }>(scratch, (d) => damaged.push(d));
    assert.equal(loaded?.epoch, 1);
    assert.equal(damaged.length, 1);
    assert.equal(damaged[0].epoch, 2);
    assert.match(damaged[0].reason, /not a file of the checkpoint \(has a '\.\.' segment\)/);
  });
});
