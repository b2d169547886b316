// Training and inference speed of the FER2013 paper CNN (48x48x1, batch 64, Adam) on every tfjs
// backend available here, side by side with Keras/TensorFlow CPU and PyTorch CPU in the same run.
//
//   npm run bench:train -- [--batch 64] [--steps 3] [--rounds 1] [--workers 2] [--include-cpu] [--no-torch] [--no-keras] [--no-openblas] [--no-xnnpack]
//
// --rounds R measures every row R times, interleaved (all rows, then all rows again...), and prints each
// row's median: on a shared machine the speed drifts by tens of percent within minutes, and interleaving
// keeps the ratios between rows honest.
//
// The wasm rows run with the kernels this machine has (src/tf/native/kernels.ts): convolutions on oneDNN
// when it loads, else on OpenBLAS. Then, in child processes, once more with each library before it turned
// off (PIPE_ONEDNN=off: OpenBLAS; PIPE_BLAS=off as well: XNNPACK alone) for comparison (--no-openblas,
// --no-xnnpack skip those). Where oneDNN runs bf16 natively (oneDnnBf16), a `wasm+oneDNN bf16` row follows the
// fp32 one: the same step with train's `precision: bf16`, and inference in bf16 as evaluate and `pipe predict`
// run it for a model trained so (batchProbabilities with precision bf16), on the same batch.
//
// Train figures are images/s over `steps` Adam steps after one warm-up step, each the step the train stage
// runs (src/train/step.ts: one replica in this thread, or several in their own threads);
// inference is ms/image for one batch in one pass, as evaluate runs it (batchProbabilities in
// src/model/inference.ts, like Keras's predict_on_batch; after a warm-up). Keras runs bench/keras_cnn.py and
// PyTorch bench/torch_cnn.py (same layers, 2 threads) when some python3 can import them (PIPE_BENCH_PYTHON
// picks the interpreter); a row says so when it cannot. Load average, and whether OPENBLAS_CORETYPE holds
// OpenBLAS to one kernel family, are printed because every figure moves with them.
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { loadTf, nativePackage, type BackendName } from '../src/tf/backend.js';
import { nativeKernels } from '../src/tf/native/kernels.js';
import { oneDnnBf16, type OneDnnPrecision } from '../src/tf/native/onednn.js';
import { buildPaperCnn } from '../src/model/paper-cnn.js';
import { createStep } from '../src/train/step.js';
import { createOptimizer } from '../src/train/optimizers.js';
import { smoothedTargets } from '../src/model/loss.js';
import { batchProbabilities } from '../src/model/inference.js';
import { flag, option } from './args.js';

interface Row {
  name: string;
  trainImagesPerSec: number | null;
  /** Images per CPU-second of the whole process (all threads): what the code costs, whatever else runs. */
  trainImagesPerCpuSec?: number;
  inferMsPerImage: number | null;
  /** Process RSS after training (replica threads included), MB. */
  rssMb?: number;
  note?: string;
}

const batch = option('batch', 64);
const steps = option('steps', 3);
const rounds = Math.max(1, option('rounds', 1));
const replicas = option('workers', 2);
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function syntheticBatch(n: number): { x: Float32Array; labels: Uint8Array; size: number } {
  const x = new Float32Array(n * 48 * 48);
  for (let i = 0; i < x.length; i++) x[i] = (Math.sin(i * 0.731) + 1) / 2;
  const labels = new Uint8Array(n).map((_, i) => i % 7);
  return { x, labels, size: n };
}

/** 'wasm' rows say what runs their convolutions. */
function backendLabel(backend: BackendName): string {
  if (backend !== 'wasm') return backend;
  return { onednn: 'wasm+oneDNN', openblas: 'wasm+OpenBLAS', xnnpack: 'wasm (XNNPACK)' }[nativeKernels().name];
}

type Plan = Array<[BackendName, number, OneDnnPrecision?]>;

async function measureTfjs(backend: BackendName, nReplicas: number, precision: OneDnnPrecision = 'fp32'): Promise<Row> {
  const name = `${nReplicas > 1 ? `${backendLabel(backend)} ×${nReplicas} workers` : backendLabel(backend)}${precision === 'bf16' ? ' bf16' : ''}`;
  const { tf } = await loadTf(backend);
  const model = await buildPaperCnn(tf);
  // The optimiser and the step that the train stage builds.
  const optimizer = createOptimizer(tf, { name: 'adam', learningRate: 1e-3 });
  const step = await createStep(tf, model, optimizer, nReplicas, precision);
  const data = syntheticBatch(batch);
  const { x } = data;
  const targets = smoothedTargets(data.labels, 7, 0);
  const dropoutSeeds = [1];
  try {
    await step.run(data, targets, null, dropoutSeeds); // warm-up: kernel setup, optimizer slots, replica threads' JIT
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < steps; i++) await step.run(data, targets, null, dropoutSeeds);
    const trainImagesPerSec = (batch * steps * 1000) / (performance.now() - t0);
    const cpu = process.cpuUsage(cpu0);
    const trainImagesPerCpuSec = (batch * steps * 1e6) / (cpu.user + cpu.system);
    const rssMb = process.memoryUsage().rss / 1e6;
    let inferMsPerImage: number | null = null;
    if (nReplicas === 1) {
      const xs = tf.tensor4d(x, [batch, 48, 48, 1]);
      const predictOnce = () => tf.tidy(() => batchProbabilities(tf, model, xs, { precision }).dataSync());
      predictOnce();
      const t1 = performance.now();
      for (let i = 0; i < steps; i++) predictOnce();
      inferMsPerImage = (performance.now() - t1) / (steps * batch);
      xs.dispose();
    }
    return { name, trainImagesPerSec, trainImagesPerCpuSec, inferMsPerImage, rssMb, note: nReplicas > 1 ? 'inference is single-replica (see row above)' : undefined };
  } finally {
    await step.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/** The first python3 that can import `modules` (PIPE_BENCH_PYTHON first), or null. */
function findPython(modules: string): string | null {
  const candidates = [process.env.PIPE_BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter(Boolean) as string[];
  return candidates.find((py) => spawnSync(py, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0) ?? null;
}

interface ReferenceResult {
  trainImagesPerSec: number;
  trainImagesPerCpuSec: number;
  inferMsPerImage: number;
  threads: number;
  [version: string]: number | string;
}

/** A reference framework's row from its script in bench/ (one JSON line of figures), or a row saying why not. */
function measureReference(label: string, modules: string, script: string, name: (r: ReferenceResult) => string): Row {
  const py = findPython(modules);
  if (!py) return { name: label, trainImagesPerSec: null, inferMsPerImage: null, note: `skipped: no python3 can 'import ${modules}'` };
  const res = spawnSync(py, [resolve(repoRoot, 'bench', script), '--batch', String(batch), '--steps', String(steps), '--threads', '2'], {
    encoding: 'utf8',
  });
  const last = res.stdout.trim().split('\n').pop() ?? '';
  if (res.status !== 0 || !last.startsWith('{')) return { name: label, trainImagesPerSec: null, inferMsPerImage: null, note: `failed: ${res.stderr.trim().split('\n').pop()}` };
  const r = JSON.parse(last) as ReferenceResult;
  return { name: name(r), trainImagesPerSec: r.trainImagesPerSec, trainImagesPerCpuSec: r.trainImagesPerCpuSec, inferMsPerImage: r.inferMsPerImage };
}

const measureTorch = () => measureReference('pytorch cpu', 'torch', 'torch_cnn.py', (r) => `pytorch ${r.torch} cpu (${r.threads} threads)`);
const measureKeras = () =>
  measureReference('keras/tensorflow cpu', 'keras, tensorflow', 'keras_cnn.py', (r) => `keras ${r.keras} / tf ${r.tensorflow} cpu (${r.threads} threads)`);

/** Row by row, the median of each figure over the rounds (rounds list the same rows in the same order). */
function medianRows(measured: Row[][]): Row[] {
  const median = (values: Array<number | null | undefined>): number | null => {
    const known = values.filter((v): v is number => v != null).sort((a, b) => a - b);
    return known.length ? known[Math.floor(known.length / 2)] : null;
  };
  return measured[0].map((first, i) => {
    const same = measured.map((round) => round[i]);
    return {
      ...first,
      trainImagesPerSec: median(same.map((r) => r.trainImagesPerSec)),
      trainImagesPerCpuSec: median(same.map((r) => r.trainImagesPerCpuSec)) ?? undefined,
      inferMsPerImage: median(same.map((r) => r.inferMsPerImage)),
      rssMb: median(same.map((r) => r.rssMb)) ?? undefined,
    };
  });
}

function fmt(v: number | null, digits: number): string {
  return v == null ? '—' : v.toFixed(digits);
}

async function measurePlan(plan: Plan): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [backend, n, precision] of plan) {
    process.stderr.write(`measuring ${backendLabel(backend)}${n > 1 ? ` ×${n}` : ''}${precision === 'bf16' ? ' bf16' : ''} ...\n`);
    try {
      rows.push(await measureTfjs(backend, n, precision));
    } catch (err) {
      rows.push({ name: backend, trainImagesPerSec: null, inferMsPerImage: null, note: `failed: ${(err as Error).message.split('\n')[0]}` });
    }
  }
  return rows;
}

/** The wasm rows again in a child process with these native libraries turned off. */
function measureChildRows(env: Record<string, string>, label: string): Row[] {
  const args = [fileURLToPath(import.meta.url), '--wasm-rows-json', '--batch', String(batch), '--steps', String(steps), '--workers', String(replicas)];
  const res = spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const last = res.stdout.trim().split('\n').pop() ?? '';
  if (res.status !== 0 || !last.startsWith('[')) return [{ name: label, trainImagesPerSec: null, inferMsPerImage: null, note: 'child run failed' }];
  return JSON.parse(last) as Row[];
}

/** The wasm rows on the fallbacks of the kernels this process uses: OpenBLAS after oneDNN, XNNPACK last. */
function measureFallbackRows(): Row[] {
  const rows: Row[] = [];
  const kernels = nativeKernels().name;
  if (kernels === 'onednn' && !flag('no-openblas')) rows.push(...measureChildRows({ PIPE_ONEDNN: 'off' }, 'wasm+OpenBLAS'));
  if (kernels !== 'xnnpack' && !flag('no-xnnpack')) rows.push(...measureChildRows({ PIPE_ONEDNN: 'off', PIPE_BLAS: 'off' }, 'wasm (XNNPACK)'));
  return rows;
}

async function main(): Promise<void> {
  const wasmPlan: Plan = [['wasm', 1]];
  if (nativeKernels().name === 'onednn' && oneDnnBf16().available) wasmPlan.push(['wasm', 1, 'bf16']);
  if (replicas > 1) wasmPlan.push(['wasm', replicas]);
  if (flag('wasm-rows-json')) {
    console.log(JSON.stringify(await measurePlan(wasmPlan)));
    return;
  }
  const load0 = loadavg()[0];
  const rows: Row[] = [];
  const plan: Plan = [];
  if (nativePackage()) plan.push(['tensorflow', 1]);
  else rows.push({ name: 'tensorflow', trainImagesPerSec: null, inferMsPerImage: null, note: 'not installed (@tensorflow/tfjs-node)' });
  plan.push(...wasmPlan);
  if (flag('include-cpu')) plan.push(['cpu', 1]);
  const measured: Row[][] = [];
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) process.stderr.write(`round ${round}/${rounds}\n`);
    const these = await measurePlan(plan);
    these.push(...measureFallbackRows());
    if (!flag('no-keras')) {
      process.stderr.write('measuring keras/tensorflow ...\n');
      these.push(measureKeras());
    }
    if (!flag('no-torch')) {
      process.stderr.write('measuring pytorch ...\n');
      these.push(measureTorch());
    }
    measured.push(these);
  }
  rows.push(...medianRows(measured));
  // The ratios are to Keras/TensorFlow (the paper's framework, and the speed to reach) when it ran, else PyTorch.
  const reference =
    rows.find((r) => r.name.startsWith('keras') && r.trainImagesPerSec != null) ?? rows.find((r) => r.name.startsWith('pytorch')) ?? null;
  const refName = reference?.name.startsWith('keras') ? 'keras' : 'pytorch';
  const ref = reference?.trainImagesPerSec ?? null;
  const refInfer = reference?.inferMsPerImage ?? null;
  const refCpu = reference?.trainImagesPerCpuSec ?? null;
  const vs = `vs ${refName}`;
  const header = ['backend', 'train img/s', vs, 'train img/cpu-s', vs, 'infer ms/img', vs, 'rss MB', 'note'];
  const lines = rows.map((r) => [
    r.name,
    fmt(r.trainImagesPerSec, 1),
    ref && r.trainImagesPerSec ? `${(r.trainImagesPerSec / ref).toFixed(2)}×` : '—',
    fmt(r.trainImagesPerCpuSec ?? null, 1),
    refCpu && r.trainImagesPerCpuSec ? `${(r.trainImagesPerCpuSec / refCpu).toFixed(2)}×` : '—',
    fmt(r.inferMsPerImage, 2),
    refInfer && r.inferMsPerImage ? `${(refInfer / r.inferMsPerImage).toFixed(2)}×` : '—',
    r.rssMb == null ? '—' : r.rssMb.toFixed(0),
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const show = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const roundsNote = rounds > 1 ? `, median of ${rounds} interleaved rounds` : '';
  console.log(`paper CNN 48x48x1, batch ${batch}, Adam, ${steps} timed steps${roundsNote}; load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
  const coretype = process.env.OPENBLAS_CORETYPE;
  console.log(
    coretype
      ? `OPENBLAS_CORETYPE=${coretype}: OpenBLAS is held to that CPU's kernels (unset, it picks the best this CPU has)`
      : 'OPENBLAS_CORETYPE is not set: OpenBLAS picks the best kernels this CPU has',
  );
  console.log(show(header));
  console.log(show(widths.map((w) => '-'.repeat(w))));
  for (const l of lines) console.log(show(l));
  console.log(`${vs}: >1× is faster than ${refName} (train: images/s ratio; infer: ms ratio inverted).`);
  console.log('img/cpu-s counts CPU time of all threads: it does not move with other load; wall figures do.');
}

await main();
