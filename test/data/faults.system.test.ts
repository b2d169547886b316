// Fault suite, part 3: damaged checkpoints and bad image data. A truncated checkpoint is reported, discarded and
// training resumes from the previous one (or starts over); --force=<stage> starts from scratch; libvips warnings
// reach the user through the logger with their file; class names with control characters are escaped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadCheckpoint, saveCheckpoint, type DamagedCheckpoint } from '../../src/train/checkpoint.js';
import { assertFault, GOOD_LAYERS, modelPipeline } from '../support/faults.js';
import { makeToyProject, spawnPipe } from '../../harness/toy-project.js';

// Eight short epochs: long enough to stop after two checkpoints, short enough to finish quickly.
const TRAIN_PIPELINE = modelPipeline(GOOD_LAYERS, { count: 140, trainWith: '{ epochs: 8, batchSize: 32, workers: 1 }' });

/** Messages of the latest run's log. */
async function lastLog(dir: string): Promise<string[]> {
  const runs = (await readdir(join(dir, 'artifacts', 'runs'))).sort();
  const text = await readFile(join(dir, 'artifacts', 'runs', runs[runs.length - 1], 'log.jsonl'), 'utf8');
  return text.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg);
}

test('checkpoints carry hashes: a damaged one is discarded and the previous one loaded', async () => {
  const scratch = await mkdtemp(join(tmpdir(), 'pipe-ckpt-'));
  const weights = (v: number) => ({ model: [{ name: 'w', shape: [36], dtype: 'float32' as const, data: new Float32Array(36).fill(v) }] });
  for (const epoch of [1, 2, 3]) await saveCheckpoint(scratch, epoch, { state: { epoch }, bundles: weights(epoch) });
  assert.deepEqual((await readdir(scratch)).filter((n) => n.startsWith('checkpoint-')).sort(), ['checkpoint-2', 'checkpoint-3']);
  await truncate(join(scratch, 'checkpoint-3', 'model.bin'), 25);
  const damaged: DamagedCheckpoint[] = [];
  const loaded = await loadCheckpoint<{ epoch: number }>(scratch, (d) => damaged.push(d));
  assert.deepEqual(damaged, [{ epoch: 3, reason: 'model.bin: 25 bytes, 144 expected' }]);
  assert.equal(loaded?.epoch, 2);
  assert.equal(loaded?.bundles.model[0].data[0], 2);
  assert.equal(existsSync(join(scratch, 'checkpoint-3')), false, 'the damaged checkpoint is removed');
  // The same content with one byte changed (same size) is caught by its hash.
  const bin = join(scratch, 'checkpoint-2', 'model.bin');
  const bytes = await readFile(bin);
  bytes[0] ^= 1;
  await writeFile(bin, bytes);
  assert.equal(await loadCheckpoint(scratch, (d) => damaged.push(d)), null);
  assert.match(damaged[1].reason, /model\.bin: content differs from its hash/);
});

test('a run whose checkpoint is damaged resumes from the previous one; --force=train starts afresh', async () => {
  const project = await makeToyProject(TRAIN_PIPELINE);
  const scratchRoot = join(project.dir, 'artifacts', 'scratch');
  // Stop training (SIGKILL, as a crash would) once it has written at least two checkpoints.
  const child = spawnPipe(project.dir, ['run', 'pipeline.yaml']);
  let scratch = '';
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(async () => {
      const keys = existsSync(scratchRoot) ? await readdir(scratchRoot) : [];
      for (const key of keys) {
        const kept = (await readdir(join(scratchRoot, key)).catch(() => [])).filter((n) => /^checkpoint-\d+$/.test(n));
        if (kept.length >= 2) {
          scratch = join(scratchRoot, key);
          clearInterval(poll);
          child.kill('SIGKILL');
          resolve();
        }
      }
    }, 20);
    child.on('exit', () => (scratch ? undefined : (clearInterval(poll), reject(new Error('training ended before two checkpoints')))));
  });
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  const epochs = (await readdir(scratch)).map((n) => /^checkpoint-(\d+)$/.exec(n)?.[1]).filter(Boolean).map(Number).sort((a, b) => b - a);
  const [latest, previous] = epochs;
  await truncate(join(scratch, `checkpoint-${latest}`, 'model.bin'), 25);

  const run = project.pipe(['run', 'pipeline.yaml']);
  const out = assertFault(project, run, {
    status: 0,
    place: new RegExp(`warning: the checkpoint after epoch ${latest} is damaged \\(model\\.bin: 25 bytes, \\d+ expected\\) and was discarded; resuming from the checkpoint after epoch ${previous}`),
  });
  assert.match(out, /3 ran|1 ran/);
  assert.ok((await lastLog(project.dir)).includes(`resuming from epoch ${previous} (checkpoint in the scratch directory)`));
  assert.equal(existsSync(scratch), false, 'the scratch directory is removed once the stage is stored');

  // --force=train: a checkpoint left in the scratch directory is not resumed.
  await mkdir(scratch, { recursive: true });
  await saveCheckpoint(scratch, 7, { state: { fingerprint: 'another configuration', epoch: 7 }, bundles: {} });
  const forced = project.pipe(['run', 'pipeline.yaml', '--force=train']);
  assertFault(project, forced, { status: 0, place: /1 ran, 2 cached/ });
  const log = await lastLog(project.dir);
  assert.equal(log.filter((m) => /resuming|ignoring a checkpoint|damaged/.test(m)).length, 0, log.join('\n'));
  assert.equal((await stat(join(project.dir, 'artifacts'))).isDirectory(), true);
});

test('libvips warnings are logged with their file, and class names with control characters are escaped', async () => {
  const project = await makeToyProject(`name: images
stages:
  ingest:
    uses: ingest-images
    with: { root: ./images, shape: [12, 12, 1] }
`);
  const classes = ['happy', 'sa\u001b[31md'];
  for (const [c, name] of classes.entries()) {
    await mkdir(join(project.dir, 'images', 'train', name), { recursive: true });
    for (let i = 0; i < 4; i++) {
      await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 60 + 100 * c, g: 40 * i, b: 90 } } })
        .png()
        .toFile(join(project.dir, 'images', 'train', name, `${i}.png`));
    }
  }
  // A tEXt chunk with a wrong CRC: libvips decodes the image and warns.
  const good = await readFile(join(project.dir, 'images', 'train', classes[1], '2.png'));
  const text = Buffer.from('Comment\0hello');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(text.length);
  const chunk = Buffer.concat([length, Buffer.from('tEXt'), text, Buffer.alloc(4)]);
  await writeFile(join(project.dir, 'images', 'train', classes[1], '2.png'), Buffer.concat([good.subarray(0, 33), chunk, good.subarray(33)]));

  const run = project.pipe(['run', 'pipeline.yaml']);
  const out = assertFault(project, run, { status: 0, place: /warning: \.\/images\/train\/sa\\x1b\[31md\/2\.png: tEXt: CRC error/ });
  assert.doesNotMatch(out, /\u001b/, 'a raw escape character reached the terminal');
  assert.equal(out.match(/CRC error/g)?.length, 1, out);
  const warning = (await readFile(join(project.dir, 'artifacts', 'runs', (await readdir(join(project.dir, 'artifacts', 'runs')))[0], 'log.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { level: number; file?: string; msg: string })
    .filter((l) => l.level === 40);
  assert.deepEqual(warning.map((l) => l.file), [`./images/train/${classes[1]}/2.png`]);
});
