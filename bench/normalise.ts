// Peak memory of the normalise stage on a dataset the size of over-sampled FER2013: the train split over-sampled
// to 7 × 7,215 rows (Happy, its largest class) plus 3,589 validation and 3,589 test rows, 48×48×1 each.
// Each measurement runs in a fresh child process and reports its peak resident set size: VmHWM from
// /proc/self/status on Linux (getrusage's maxrss would carry over the parent's peak across fork+exec).
//
//   npm run build && node dist/bench/normalise.js
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TRAIN_ROWS = 7 * 7215;
const OTHER_ROWS = 3589;
const SIZE = 48 * 48;

async function writeFixture(path: string): Promise<void> {
  const { writeDataset } = await import('../src/data/image-dataset.js');
  const { createRandom } = await import('../src/data/random.js');
  const n = TRAIN_ROWS + 2 * OTHER_ROWS;
  const random = createRandom(1);
  const pixels = new Uint8Array(n * SIZE);
  for (let i = 0; i < pixels.length; i++) pixels[i] = random.int(256);
  const splitCodes = new Int8Array(n);
  splitCodes.fill(1, TRAIN_ROWS, TRAIN_ROWS + OTHER_ROWS).fill(2, TRAIN_ROWS + OTHER_ROWS);
  await writeDataset(path, {
    shape: [48, 48, 1],
    classes: ['Angry', 'Disgust', 'Fear', 'Happy', 'Sad', 'Surprise', 'Neutral'],
    labels: Uint8Array.from({ length: n }, (_, i) => i % 7),
    pixels,
    splitNames: ['train', 'validation', 'test'],
    splitCodes,
    source: Uint32Array.from({ length: n }, (_, i) => i),
    metadata: {},
  });
}

async function peakRssKiB(): Promise<number> {
  try {
    const status = await readFile('/proc/self/status', 'utf8');
    const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
    if (match) return Number(match[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

/** Child: run the stage once (or only load the modules, for the baseline) and print peak RSS. */
async function measure(path: string, mode: string): Promise<void> {
  const started = performance.now();
  const stage = (await import('../stages/normalise.js')).default;
  await import('../src/data/image-dataset.js');
  if (mode !== 'baseline') {
    const { runStage } = await import('../harness/stage-harness.js');
    await runStage(stage, { params: { mode }, inputs: { data: path } });
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ mode, peakRssMiB: Math.round((await peakRssKiB()) / 1024), seconds: +seconds.toFixed(2) }));
}

async function main(): Promise<void> {
  if (process.argv[2] === '--measure') return measure(process.argv[3], process.argv[4]);
  const dir = await mkdtemp(join(tmpdir(), 'pipe-bench-normalise-'));
  try {
    const path = join(dir, 'data.arrow');
    await writeFixture(path);
    const rows = TRAIN_ROWS + 2 * OTHER_ROWS;
    const fileMiB = (await stat(path)).size / 2 ** 20;
    console.log(`dataset: ${rows} rows of 48x48x1 (train ${TRAIN_ROWS}), ${fileMiB.toFixed(0)} MiB as Arrow; ` +
      `a float32 copy of the pixels would be ${((rows * SIZE * 4) / 2 ** 20).toFixed(0)} MiB`);
    for (const mode of ['baseline', 'scale', 'standardise']) {
      const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--measure', path, mode], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`${mode} failed: ${child.stderr}`);
      console.log(child.stdout.trim());
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
