// `npm run bench:scale`: how time and memory grow with the number of images. For each size it builds (once,
// cached in the OS temp folder) a tree <root>/<class>/<n>.jpg of 96×96 colour JPEGs in seven classes with
// FER2013's class imbalance, then runs ingest-images → split (stratified 80/10/10, seeded) → oversample →
// normalise → build-model (a small CNN) → train (1 epoch) → evaluate into a fresh store, one stage per
// `pipe run --until <stage>` child under /usr/bin/time -v, and reports each stage's wall time, images/s, the
// child's peak RSS and the artifact's size; `pipe plan` of the tree with no stat cache and again unchanged;
// and a linear extrapolation to 450,000 images from the two largest sizes.
//
//   npm run bench:scale -- [--sizes 10000,50000] [--until <stage>] [--csv-rows 1000000] [--no-images] [--keep]
//
// --csv-rows N also writes a FER2013-style CSV (emotion,pixels,Usage; 48×48 grey) of N rows, gzipped and cached
// the same way, and times the ingest-csv stage alone with its peak RSS: a million rows is 2.3 GB of pixels, past
// what one Arrow array (2^31 bytes) holds. --until stops each size's pipeline after that stage (ingest, split,
// oversample, normalise, build, train, evaluate). --keep leaves the stores behind (they hold several GB at 50,000).
// Load average, core count and OPENBLAS_CORETYPE are printed: every figure moves with them.
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGzip } from 'node:zlib';
import { flag, option } from './args.js';
import { loadSharp } from '../src/packages.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(repoRoot, 'bin', 'pipe.js');
const cacheDir = join(tmpdir(), 'pipe-bench-scale');
const EXTRAPOLATE_TO = 450_000;

const CLASSES = ['angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral'];
/** FER2013's training rows per class: the imbalance oversample has to even out. */
const CLASS_WEIGHTS = [3995, 436, 4097, 7215, 4830, 3171, 4965];
const STAGES = ['ingest', 'split', 'oversample', 'normalise', 'build', 'train', 'evaluate'] as const;

function sizesOption(): number[] {
  const i = process.argv.indexOf('--sizes');
  const text = i >= 0 ? process.argv[i + 1] : '10000,50000';
  const sizes = text.split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 70)) throw new Error(`--sizes takes whole numbers of at least 70, got ${text}`);
  return [...new Set(sizes)].sort((a, b) => a - b);
}

/** xorshift32: the same tree on every machine for one size. */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/** Images per class for n images, in FER2013's proportions (largest remainder). */
function classCountsFor(n: number): number[] {
  const total = CLASS_WEIGHTS.reduce((a, b) => a + b, 0);
  const exact = CLASS_WEIGHTS.map((w) => (n * w) / total);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, k) => [x - Math.floor(x), k]).sort((a, b) => b[0] - a[0]);
  const short = n - counts.reduce((a, b) => a + b, 0);
  for (let j = 0; j < short; j++) counts[order[j][1]]++;
  return counts;
}

function progressLine(text: string): void {
  if (process.stdout.isTTY) process.stdout.write(`\r${text}\x1b[K`);
}

/**
 * The tree of n images, made once: smooth colour blobs (16×16 noise upscaled) tinted by class, with fine noise
 * on top, so JPEGs are a few KB like small photos rather than flat colour.
 */
async function imageTree(n: number): Promise<string> {
  const root = join(cacheDir, `images-${n}`);
  const done = `${root}.complete`;
  if (existsSync(done)) return root;
  const sharp = loadSharp();
  await rm(root, { recursive: true, force: true });
  const counts = classCountsFor(n);
  const jobs: Array<{ path: string; label: number; seed: number }> = [];
  for (let k = 0; k < CLASSES.length; k++) {
    await mkdir(join(root, CLASSES[k]), { recursive: true });
    for (let j = 0; j < counts[k]; j++) jobs.push({ path: join(root, CLASSES[k], `${String(j).padStart(6, '0')}.jpg`), label: k, seed: jobs.length + 1 });
  }
  const started = performance.now();
  let next = 0;
  let written = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const { path, label, seed } = jobs[next++];
      const rnd = random(seed * 2654435761);
      const small = Buffer.alloc(16 * 16 * 3);
      const tint = [(label * 37) % 256, (label * 91) % 256, (label * 151) % 256];
      for (let i = 0; i < small.length; i++) small[i] = Math.floor(rnd() * 192 + tint[i % 3] * 0.25);
      const base = await sharp(small, { raw: { width: 16, height: 16, channels: 3 } }).resize(96, 96, { kernel: 'cubic' }).raw().toBuffer();
      for (let i = 0; i < base.length; i++) base[i] = Math.max(0, Math.min(255, base[i] + Math.floor((rnd() - 0.5) * 40)));
      const jpeg = await sharp(base, { raw: { width: 96, height: 96, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
      await writeFile(path, jpeg);
      bytes += jpeg.length;
      if (++written % 500 === 0) progressLine(`writing ${root}: ${written.toLocaleString('en-US')}/${n.toLocaleString('en-US')} JPEGs`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  progressLine('');
  const seconds = (performance.now() - started) / 1000;
  console.log(`wrote ${n.toLocaleString('en-US')} JPEGs (${(bytes / 1e6).toFixed(0)} MB, ${(bytes / n / 1024).toFixed(1)} KiB each) to ${root} in ${seconds.toFixed(0)} s`);
  await writeFile(done, '');
  return root;
}

/** A FER2013-style CSV of n rows, gzipped (level 1: the content repeats, so this is quick). */
async function fer2013Csv(n: number): Promise<string> {
  const file = join(cacheDir, `fer2013-style-${n}.csv.gz`);
  if (existsSync(`${file}.complete`)) return file;
  await mkdir(cacheDir, { recursive: true });
  const rnd = random(12345);
  // 101 distinct images (a prime, so they do not line up with the labels' cycle), each a smooth field plus noise.
  const images = Array.from({ length: 101 }, () => {
    const phase = rnd() * 6.28;
    const values: number[] = [];
    for (let y = 0; y < 48; y++) {
      for (let x = 0; x < 48; x++) values.push(Math.max(0, Math.min(255, Math.round(128 + 80 * Math.sin(x / 7 + phase) * Math.cos(y / 9) + (rnd() - 0.5) * 60))));
    }
    return values.join(' ');
  });
  const counts = classCountsFor(1000);
  const labelOf: number[] = counts.flatMap((c, k) => new Array<number>(c).fill(k));
  const out = createGzip({ level: 1 });
  const sink = createWriteStream(file);
  const finished = new Promise<void>((done, fail) => {
    sink.on('finish', done);
    sink.on('error', fail);
    out.on('error', fail);
  });
  out.pipe(sink);
  const write = (text: string) => (out.write(text) ? Promise.resolve() : new Promise<void>((done) => out.once('drain', done)));
  await write('emotion,pixels,Usage\n');
  const started = performance.now();
  let chunk: string[] = [];
  for (let i = 0; i < n; i++) {
    const usage = i % 10 === 8 ? 'PublicTest' : i % 10 === 9 ? 'PrivateTest' : 'Training';
    chunk.push(`${labelOf[(i * 7919) % 1000]},${images[i % 101]},${usage}\n`);
    if (chunk.length === 128) {
      await write(chunk.join(''));
      chunk = [];
      if (i % 16384 < 128) progressLine(`writing ${file}: ${i.toLocaleString('en-US')}/${n.toLocaleString('en-US')} rows`);
    }
  }
  await write(chunk.join(''));
  out.end();
  await finished;
  progressLine('');
  console.log(`wrote ${n.toLocaleString('en-US')} CSV rows (${((await stat(file)).size / 1e6).toFixed(0)} MB gzipped) to ${file} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  await writeFile(`${file}.complete`, '');
  return file;
}

function imagesPipeline(root: string): string {
  return `name: scale-images
seed: 42
backend: auto
stages:
  ingest:
    uses: ingest-images
    with: { root: ${JSON.stringify(root)}, layout: classes, shape: [96, 96, 3], grayscale: false }
  split:
    uses: split
    inputs: { data: ingest }
    with: { fractions: { train: 0.8, validation: 0.1, test: 0.1 } }
  oversample:
    uses: oversample
    inputs: { data: split }
    with: { strategy: auto, splits: [train] }
  normalise:
    uses: normalise
    inputs: { data: oversample }
    with: { mode: scale }
  build:
    uses: build-model
    with:
      inputShape: [96, 96, 3]
      layers:
        - conv2d: { filters: 16, kernelSize: 3, activation: relu }
        - maxPooling2d: { poolSize: 2 }
        - conv2d: { filters: 32, kernelSize: 3, activation: relu }
        - maxPooling2d: { poolSize: 2 }
        - conv2d: { filters: 32, kernelSize: 3, activation: relu }
        - maxPooling2d: { poolSize: 2 }
        - flatten: {}
        - dense: { units: 64, activation: relu }
        - dropout: { rate: 0.3 }
        - dense: { units: 7, activation: softmax }
  train:
    uses: train
    inputs: { model: build, data: normalise }
    with: { epochs: 1, batchSize: 64, optimizer: { name: adam, learningRate: 0.002 } }
  evaluate:
    uses: evaluate
    inputs: { model: train, data: normalise }
    with: { splits: [test] }
`;
}

function csvPipeline(file: string): string {
  return `name: scale-csv
seed: 42
stages:
  ingest:
    uses: ingest-csv
    with: { path: ${JSON.stringify(file)} }
`;
}

interface Timed {
  wallSeconds: number;
  peakRssMiB: number;
  status: number | null;
  stdout: string;
  stderr: string;
}

/** One pipe command in its own process under GNU time, which reports the child's peak RSS. */
function timedPipe(args: string[], store: string): Timed {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, bin, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, CI: 'true', PIPE_ARTIFACTS: store },
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr);
  return { wallSeconds, peakRssMiB: rss ? Number(rss[1]) / 1024 : NaN, status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function sizeOf(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const e of await readdir(path)) total += await sizeOf(join(path, e));
  return total;
}

interface StageRecordish {
  status: string;
  seconds: number;
  outputs: Record<string, string>;
  summary?: Record<string, unknown>;
}

interface Row {
  n: number;
  stage: string;
  /** The child process, start to exit (plan, cache lookups and the stage). */
  wallSeconds: number;
  /** The stage's run() alone. */
  stageSeconds: number | null;
  imagesPerSecond: number | null;
  peakRssMiB: number;
  artifactMiB: number | null;
}

/** Runs `pipe run --until stage` and reads the stage's record from --json. */
async function runStage(pipeline: string, stage: string, store: string, n: number, rowsIn: number): Promise<{ row: Row; rowsOut: number }> {
  const t = timedPipe(['run', pipeline, '--until', stage, '--json'], store);
  if (t.status !== 0) throw new Error(`pipe run --until ${stage} failed (exit ${t.status}):\n${t.stdout.slice(-4000)}\n${t.stderr.slice(-4000)}`);
  const record = JSON.parse(t.stdout) as { stages: Record<string, StageRecordish> };
  const s = record.stages[stage];
  if (s.status !== 'ran') throw new Error(`${stage} did not run (${s.status}) in a fresh store`);
  const summary = s.summary ?? {};
  const rowsOut = typeof summary.rows === 'number' ? summary.rows : typeof summary.rowsAfter === 'number' ? summary.rowsAfter : rowsIn;
  const first = Object.values(s.outputs)[0];
  const artifact = first ? dirname(join(store, first)) : null;
  const trainRate = typeof summary.imagesPerSecond === 'number' ? summary.imagesPerSecond : null;
  // evaluate scores the test split: a tenth of the rows.
  const scored = stage === 'evaluate' ? Math.round(n / 10) : rowsOut;
  const rate = stage === 'build' ? null : stage === 'train' ? trainRate : s.seconds > 0 ? Math.round(scored / s.seconds) : null;
  return {
    row: {
      n,
      stage,
      wallSeconds: t.wallSeconds,
      stageSeconds: s.seconds,
      imagesPerSecond: rate,
      peakRssMiB: t.peakRssMiB,
      artifactMiB: artifact ? (await sizeOf(artifact)) / 2 ** 20 : null,
    },
    rowsOut,
  };
}

function stagesUntil(): readonly string[] {
  const i = process.argv.indexOf('--until');
  if (i < 0) return STAGES;
  const last = STAGES.indexOf(process.argv[i + 1] as (typeof STAGES)[number]);
  if (last < 0) throw new Error(`--until takes one of ${STAGES.join(', ')}`);
  return STAGES.slice(0, last + 1);
}

async function benchImages(n: number, keep: boolean): Promise<Row[]> {
  const root = await imageTree(n);
  const work = await mkdtemp(join(tmpdir(), `pipe-bench-scale-${n}-`));
  const store = join(work, 'store');
  const pipeline = join(work, 'scale-images.yaml');
  await writeFile(pipeline, imagesPipeline(root));
  const rows: Row[] = [];
  try {
    for (const label of ['plan (no stat cache)', 'plan (unchanged)']) {
      const t = timedPipe(['plan', pipeline], store);
      if (t.status !== 0) throw new Error(`pipe plan failed (exit ${t.status}):\n${t.stdout}\n${t.stderr}`);
      rows.push({ n, stage: label, wallSeconds: t.wallSeconds, stageSeconds: null, imagesPerSecond: Math.round(n / t.wallSeconds), peakRssMiB: t.peakRssMiB, artifactMiB: null });
      console.log(formatRow(rows[rows.length - 1]));
    }
    let rowsIn = n;
    for (const stage of stagesUntil()) {
      progressLine(`${n.toLocaleString('en-US')} images: ${stage}...`);
      const { row, rowsOut } = await runStage(pipeline, stage, store, n, rowsIn);
      if (stage !== 'build' && stage !== 'train' && stage !== 'evaluate') rowsIn = rowsOut;
      rows.push(row);
      progressLine('');
      console.log(formatRow(row));
    }
  } finally {
    if (keep) console.log(`store kept: ${store}`);
    else await rm(work, { recursive: true, force: true });
  }
  return rows;
}

async function benchCsv(n: number, keep: boolean): Promise<Row> {
  const file = await fer2013Csv(n);
  const work = await mkdtemp(join(tmpdir(), 'pipe-bench-scale-csv-'));
  const store = join(work, 'store');
  const pipeline = join(work, 'scale-csv.yaml');
  await writeFile(pipeline, csvPipeline(file));
  try {
    const { row } = await runStage(pipeline, 'ingest', store, n, n);
    row.stage = 'ingest-csv';
    console.log(formatRow(row));
    return row;
  } finally {
    if (keep) console.log(`store kept: ${store}`);
    else await rm(work, { recursive: true, force: true });
  }
}

function seconds(s: number | null): string {
  if (s === null) return '–';
  if (s < 60) return `${s.toFixed(1)} s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}

const mib = (x: number | null) => (x === null || Number.isNaN(x) ? '–' : x >= 1024 ? `${(x / 1024).toFixed(2)} GiB` : `${Math.round(x)} MiB`);

function formatRow(r: Row): string {
  return `| ${r.n.toLocaleString('en-US')} | ${r.stage} | ${seconds(r.wallSeconds)} | ${seconds(r.stageSeconds)} | ${r.imagesPerSecond ?? '–'} | ${mib(r.peakRssMiB)} | ${mib(r.artifactMiB)} |`;
}

const HEADER = '| images | stage | wall (process) | stage run() | images/s | peak RSS | artifact |\n| ---: | --- | ---: | ---: | ---: | ---: | ---: |';

/** y at EXTRAPOLATE_TO on the line through the two largest sizes. */
function extrapolate(rows: Row[], sizes: number[]): Row[] {
  if (sizes.length < 2) return [];
  const [a, b] = sizes.slice(-2);
  const line = (ya: number | null, yb: number | null) => (ya === null || yb === null ? null : ya + ((yb - ya) * (EXTRAPOLATE_TO - a)) / (b - a));
  const out: Row[] = [];
  for (const stage of new Set(rows.map((r) => r.stage))) {
    const ra = rows.find((r) => r.n === a && r.stage === stage);
    const rb = rows.find((r) => r.n === b && r.stage === stage);
    if (!ra || !rb) continue;
    const stageSeconds = line(ra.stageSeconds, rb.stageSeconds);
    out.push({
      n: EXTRAPOLATE_TO,
      stage: `${stage} (linear from ${a.toLocaleString('en-US')} and ${b.toLocaleString('en-US')})`,
      wallSeconds: line(ra.wallSeconds, rb.wallSeconds)!,
      stageSeconds,
      imagesPerSecond: rb.imagesPerSecond,
      peakRssMiB: line(ra.peakRssMiB, rb.peakRssMiB)!,
      artifactMiB: line(ra.artifactMiB, rb.artifactMiB),
    });
  }
  return out;
}

async function main(): Promise<void> {
  const sizes = sizesOption();
  const csvRows = option('csv-rows', 0);
  const keep = flag('keep');
  const machine =
    `${availableParallelism()} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ` +
    `OPENBLAS_CORETYPE ${process.env.OPENBLAS_CORETYPE ? `= ${process.env.OPENBLAS_CORETYPE}` : 'not set'}, Node ${process.version}`;
  console.log(`bench:scale on ${machine}; trees cached in ${cacheDir}`);
  console.log(HEADER);
  const rows: Row[] = [];
  if (!flag('no-images')) for (const n of sizes) rows.push(...(await benchImages(n, keep)));
  const extra = extrapolate(rows, sizes);
  const csv = csvRows > 0 ? await benchCsv(csvRows, keep) : null;
  const table = [HEADER, ...rows.map(formatRow), ...extra.map(formatRow), ...(csv ? [formatRow(csv)] : [])].join('\n');
  const report =
    `\n${table}\n\nmachine: ${machine}; load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n` +
    `command: npm run bench:scale -- ${process.argv.slice(2).join(' ')}\n` +
    'wall (process): the whole `pipe run --until <stage>` child (planning included); peak RSS: that child\'s, from /usr/bin/time -v; ' +
    'images/s: rows the stage wrote per second of its run() (train: its own figure; evaluate: test rows; plan: the tree\'s images per second of wall time)\n';
  console.log(report);
  await mkdir(cacheDir, { recursive: true });
  await writeFile(join(cacheDir, 'last.md'), report);
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
