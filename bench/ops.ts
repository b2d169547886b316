// Pooling and batch normalisation on the wasm backend, its own kernels against oneDNN's primitives, side
// by side in one process on the same tensors: batch 64 (--batch) on the paper CNN's shapes and a VGG-style
// net's. The figures decide which of these ops run on oneDNN (NATIVE_KERNELS in src/tf/native/kernels.ts).
//
//   npm run bench:ops -- [--batch 64] [--reps 10] [--rounds 3] [--threads N] [--convs]
//
// A second table times the paper CNN's convolutions (forward, both gradients) and its first dense layer's
// products on oneDNN in fp32 and in bf16 (setOneDnnPrecision), same tensors, interleaved, with each row's
// GFLOP/s; bf16 only where the CPU has it (oneDnnBf16). --convs runs that table alone.
//
// Each row times one op on one shape: the kernel wasm runs without oneDNN (our SIMD kernels, one thread;
// XNNPACK's stock MaxPool, AvgPool and AvgPoolGrad), then oneDNN's primitive; ms per call, and how many
// times faster oneDNN is. oneDNN runs on its default threads, one per core, as training does with one
// replica; --threads sets another count (a primitive keeps the count it was made with, so one count per
// run). Rounds interleave the rows and each figure is the median over them (see bench/train.ts). The oneDNN
// rows call the kernels of src/tf/wasm/onednn-kernels.ts with a fallback that throws, so a figure is
// oneDNN's.
import { availableParallelism, loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { loadTf } from '../src/tf/backend.js';
import { loadOneDnn, oneDnnBf16, setOneDnnPrecision, type OneDnn, type OneDnnPrecision } from '../src/tf/native/onednn.js';
import type { KernelFunc, MultiOutputKernelFunc } from '../src/tf/types.js';
import { batchNormTraining, batchNormTrainingGrad, fastFusedBatchNorm } from '../src/tf/wasm/channel-kernels.js';
import { fastMaxPoolGrad } from '../src/tf/wasm/fast-reductions.js';
import {
  onednnAvgPool,
  onednnAvgPoolGrad,
  onednnBatchNormTraining,
  onednnBatchNormTrainingGrad,
  onednnFusedBatchNorm,
  onednnConv2D,
  onednnConv2DBackpropFilter,
  onednnConv2DBackpropInput,
  onednnMatMul,
  onednnMaxPool,
  onednnMaxPoolGrad,
} from '../src/tf/wasm/onednn-kernels.js';
import { flag, option } from './args.js';

const batch = option('batch', 64);
const reps = option('reps', 10);
const rounds = Math.max(1, option('rounds', 3));
const threadCount = option('threads', 0);
const convsOnly = flag('convs');

/** [height, width, channels] of the activations each net normalises and pools (2×2, stride 2). */
const NETS: Record<string, Array<[number, number, number]>> = {
  paper: [[46, 46, 64], [21, 21, 128], [8, 8, 128]],
  vgg: [[48, 48, 32], [24, 24, 64], [12, 12, 128], [6, 6, 256]],
};

type AnyKernel = KernelFunc | MultiOutputKernelFunc;
type Tensor = ReturnType<typeof tf.tensor>;

interface Op {
  name: string;
  wasm: AnyKernel;
  onednn: AnyKernel;
  /** The inputs and attributes for activations of this shape. */
  args(shape: number[]): { inputs: Record<string, Tensor>; attrs: Record<string, unknown> };
}

// The stock wasm kernels, before loadTf puts ours (and perhaps oneDNN's) over them.
await tf.setBackend('wasm');
await tf.ready();
const stock = (name: string) => tf.getKernel(name, 'wasm')!.kernelFunc as unknown as KernelFunc;
const [stockMaxPool, stockAvgPool, stockAvgPoolGrad, stockMaxPoolGrad, stockFusedBatchNorm] = ['MaxPool', 'AvgPool', 'AvgPoolGrad', 'MaxPoolGrad', 'FusedBatchNorm'].map(stock);
await loadTf('wasm');

const found = loadOneDnn();
if (!('onednn' in found)) {
  console.log(`oneDNN is not available here: ${found.unavailable}`);
  process.exit(1);
}
const onednn: OneDnn = found.onednn;
if (threadCount > 0) onednn.setThreads(threadCount);
const noFallback = (() => {
  throw new Error('oneDNN did not take this shape');
}) as unknown as KernelFunc & MultiOutputKernelFunc;

let seed = 1;
const random = (shape: number[]) => tf.randomNormal(shape, 0, 1, 'float32', seed++);
const pool = { filterSize: 2, strides: 2, pad: 'valid' };
const pooled = ([n, h, w, c]: number[]) => [n, Math.floor(h / 2), Math.floor(w / 2), c];
const channels = (shape: number[]) => [shape[shape.length - 1]];

const OPS: Op[] = [
  { name: 'MaxPool', wasm: stockMaxPool, onednn: onednnMaxPool(tf, onednn, noFallback), args: (s) => ({ inputs: { x: random(s) }, attrs: pool }) },
  {
    name: 'MaxPoolGrad',
    wasm: fastMaxPoolGrad(tf)(stockMaxPoolGrad),
    onednn: onednnMaxPoolGrad(tf, onednn, noFallback),
    args: (s) => ({ inputs: { input: random(s), dy: random(pooled(s)) }, attrs: pool }),
  },
  { name: 'AvgPool', wasm: stockAvgPool, onednn: onednnAvgPool(tf, onednn, noFallback), args: (s) => ({ inputs: { x: random(s) }, attrs: pool }) },
  {
    name: 'AvgPoolGrad',
    wasm: stockAvgPoolGrad,
    onednn: onednnAvgPoolGrad(tf, onednn, noFallback),
    args: (s) => ({ inputs: { input: random(s), dy: random(pooled(s)) }, attrs: pool }),
  },
  {
    name: 'batch norm, training',
    wasm: batchNormTraining,
    onednn: onednnBatchNormTraining(onednn, noFallback),
    args: (s) => ({ inputs: { x: random(s), gamma: random(channels(s)), beta: random(channels(s)) }, attrs: { epsilon: 1e-3 } }),
  },
  {
    name: 'batch norm, gradient',
    wasm: batchNormTrainingGrad,
    onednn: onednnBatchNormTrainingGrad(onednn, noFallback),
    args: (s) => {
      const x = random(s);
      const stats = tf.stack([tf.mean(x, [0, 1, 2]), tf.moments(x, [0, 1, 2]).variance]);
      return { inputs: { dy: random(s), x, stats, gamma: random(channels(s)) }, attrs: { epsilon: 1e-3 } };
    },
  },
  {
    name: 'FusedBatchNorm (inference)',
    wasm: fastFusedBatchNorm(stockFusedBatchNorm),
    onednn: onednnFusedBatchNorm(onednn, noFallback),
    args: (s) => {
      const c = channels(s);
      return { inputs: { x: random(s), mean: random(c), variance: tf.add(tf.abs(random(c)), 0.5), offset: random(c), scale: random(c) }, attrs: { varianceEpsilon: 1e-3 } };
    },
  },
];

/** Median ms per call of `kernel` on these arguments, over `reps` calls after two to warm up. */
function time(kernel: AnyKernel, args: ReturnType<Op['args']>): number {
  const backend = tf.backend() as unknown as Parameters<KernelFunc>[0]['backend'];
  const call = () => {
    const out = kernel({ inputs: args.inputs, attrs: args.attrs, backend });
    for (const t of Array.isArray(out) ? out : [out]) backend.disposeData(t.dataId);
  };
  call();
  call();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    call();
    times.push(performance.now() - start);
  }
  return median(times);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

interface Row {
  op: string;
  net: string;
  shape: number[];
  wasm: number[];
  onednn: number[];
}

const load0 = loadavg()[0];
function poolsAndBatchNorm() {
  const rows: Row[] = [];
  for (const op of OPS) for (const [net, shapes] of Object.entries(NETS)) for (const [h, w, c] of shapes) rows.push({ op: op.name, net, shape: [batch, h, w, c], wasm: [], onednn: [] });
  for (let round = 1; round <= rounds; round++) {
    process.stderr.write(`round ${round}/${rounds}\n`);
    for (const row of rows) {
      const op = OPS.find((o) => o.name === row.op)!;
      const args = tf.tidy(() => op.args(row.shape) as never) as ReturnType<Op['args']>;
      row.wasm.push(time(op.wasm, args));
      row.onednn.push(time(op.onednn, args));
      tf.dispose(Object.values(args.inputs));
    }
  }

  const header = ['op', 'net', 'shape', 'wasm ms', 'oneDNN ms', 'faster'];
  const line = (op: string, net: string, shape: string, wasm: number, dnnl: number) => [op, net, shape, wasm.toFixed(2), dnnl.toFixed(2), `${(wasm / dnnl).toFixed(2)}×`];
  const lines = rows.map((r) => line(r.op, r.net, r.shape.join('×'), median(r.wasm), median(r.onednn)));
  // Per op and net, all its shapes together: what one step of that net spends on the op.
  for (const op of OPS) {
    for (const net of Object.keys(NETS)) {
      const these = rows.filter((r) => r.op === op.name && r.net === net);
      const [wasm, dnnl] = (['wasm', 'onednn'] as const).map((k) => these.reduce((sum, r) => sum + median(r[k]), 0));
      lines.push(line(op.name, net, 'all shapes', wasm, dnnl));
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const show = (cols: string[]) => cols.map((col, i) => col.padEnd(widths[i])).join('  ').trimEnd();
  console.log(`${onednn.name}, ${onednn.threads()} threads (${availableParallelism()} cores); batch ${batch}, ${reps} calls per figure, median of ${rounds} interleaved rounds; load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
  console.log(show(header));
  console.log(show(widths.map((w) => '-'.repeat(w))));
  for (const l of lines) console.log(show(l));
  console.log('faster: wasm ms / oneDNN ms (>1×: oneDNN is faster).');
  const impls = [...onednn.implementations()].filter(([key]) => /pool|batch-norm/.test(key) && key.includes(`${batch}x`));
  const kinds = new Map<string, Set<string>>();
  for (const [key, impl] of impls) {
    const kind = key.split(` ${batch}x`)[0];
    kinds.set(kind, (kinds.get(kind) ?? new Set()).add(impl));
  }
  console.log(`oneDNN implementations: ${[...kinds].map(([kind, set]) => `${kind}: ${[...set].join(', ')}`).join('; ')}`);
}

/** The paper CNN's convolutions (3×3, stride 1): input [h, w, cin], cout, padding. */
const PAPER_CONVS: Array<{ layer: string; h: number; cin: number; cout: number; pad: 'valid' | 'same' }> = [
  { layer: 'conv1', h: 48, cin: 1, cout: 32, pad: 'valid' },
  { layer: 'conv2', h: 46, cin: 32, cout: 64, pad: 'same' },
  { layer: 'conv3', h: 23, cin: 64, cout: 64, pad: 'valid' },
  { layer: 'conv4', h: 21, cin: 64, cout: 128, pad: 'same' },
  { layer: 'conv5', h: 10, cin: 128, cout: 128, pad: 'valid' },
];

interface ConvRow {
  op: string;
  layer: string;
  shape: string;
  /** Multiply-adds × 2 of one call. */
  flops: number;
  kernel: KernelFunc;
  args: { inputs: Record<string, Tensor>; attrs: Record<string, unknown> };
  times: Record<OneDnnPrecision, number[]>;
}

function convolutions() {
  const bf16 = oneDnnBf16();
  const precisions: OneDnnPrecision[] = bf16.available ? ['fp32', 'bf16'] : ['fp32'];
  const rows: ConvRow[] = [];
  const times = () => ({ fp32: [], bf16: [] });
  for (const c of PAPER_CONVS) {
    const ho = c.pad === 'same' ? c.h : c.h - 2;
    const x = random([batch, c.h, c.h, c.cin]);
    const filter = random([3, 3, c.cin, c.cout]);
    const dy = random([batch, ho, ho, c.cout]);
    const attrs = { strides: 1, pad: c.pad, dataFormat: 'NHWC', dilations: 1 };
    const flops = 2 * batch * ho * ho * c.cout * 9 * c.cin;
    const shape = `${batch}×${c.h}×${c.h}×${c.cin}→${c.cout}`;
    rows.push(
      { op: 'Conv2D', layer: c.layer, shape, flops, kernel: onednnConv2D(tf, onednn, noFallback), args: { inputs: { x, filter }, attrs }, times: times() },
      {
        op: 'Conv2DBackpropInput',
        layer: c.layer,
        shape,
        flops,
        kernel: onednnConv2DBackpropInput(tf, onednn, noFallback),
        args: { inputs: { dy, filter }, attrs: { ...attrs, inputShape: x.shape } },
        times: times(),
      },
      {
        op: 'Conv2DBackpropFilter',
        layer: c.layer,
        shape,
        flops,
        kernel: onednnConv2DBackpropFilter(tf, onednn, noFallback),
        args: { inputs: { x, dy }, attrs: { ...attrs, filterShape: filter.shape } },
        times: times(),
      },
    );
  }
  // dense1 (2048 → 200): its forward and the two products of its gradient, as tfjs runs them (BatchMatMul).
  const [m, k, n] = [batch, 2048, 200];
  const matmul = onednnMatMul(onednn, noFallback);
  for (const [label, a, b, transposeA, transposeB] of [
    ['x·W', [1, m, k], [1, k, n], false, false],
    ['dy·Wᵀ', [1, m, n], [1, k, n], false, true],
    ['xᵀ·dy', [1, m, k], [1, m, n], true, false],
  ] as Array<[string, number[], number[], boolean, boolean]>) {
    rows.push({
      op: `BatchMatMul ${label}`,
      layer: 'dense1',
      shape: `${a.slice(1).join('×')}·${b.slice(1).join('×')}`,
      flops: 2 * m * k * n,
      kernel: matmul,
      args: { inputs: { a: random(a), b: random(b) }, attrs: { transposeA, transposeB } },
      times: times(),
    });
  }
  for (let round = 1; round <= rounds; round++) {
    process.stderr.write(`convolutions, round ${round}/${rounds}\n`);
    for (const row of rows) {
      for (const p of precisions) {
        const restore = setOneDnnPrecision(p);
        try {
          row.times[p].push(time(row.kernel, row.args));
        } finally {
          restore();
        }
      }
    }
  }
  const gflops = (flops: number, ms: number) => (flops / ms / 1e6).toFixed(0);
  const header = ['op', 'layer', 'shape', 'fp32 ms', 'GFLOP/s', ...(bf16.available ? ['bf16 ms', 'GFLOP/s', 'faster'] : [])];
  const line = (op: string, layer: string, shape: string, flops: number, fp32: number, b16: number) => [
    op,
    layer,
    shape,
    fp32.toFixed(2),
    gflops(flops, fp32),
    ...(bf16.available ? [b16.toFixed(2), gflops(flops, b16), `${(fp32 / b16).toFixed(2)}×`] : []),
  ];
  const lines = rows.map((r) => line(r.op, r.layer, r.shape, r.flops, median(r.times.fp32), bf16.available ? median(r.times.bf16) : NaN));
  // Per op, the paper CNN's layers together: what one training step spends on it.
  const sum = (these: ConvRow[], p: OneDnnPrecision) => these.reduce((total, r) => total + (r.times[p].length ? median(r.times[p]) : 0), 0);
  for (const op of [...new Set(rows.map((r) => r.op))]) {
    const these = rows.filter((r) => r.op === op);
    if (these.length > 1) lines.push(line(op, 'all', '', these.reduce((f, r) => f + r.flops, 0), sum(these, 'fp32'), sum(these, 'bf16')));
  }
  lines.push(line('all of the above', '', '', rows.reduce((f, r) => f + r.flops, 0), sum(rows, 'fp32'), sum(rows, 'bf16')));
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const show = (cols: string[]) => cols.map((col, i) => col.padEnd(widths[i])).join('  ').trimEnd();
  console.log('');
  console.log(`paper CNN convolutions and dense1 on ${onednn.name}, ${onednn.threads()} threads; batch ${batch}, ${reps} calls per figure, median of ${rounds} interleaved rounds; load average ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
  if (!bf16.available) console.log(`bf16 not measured: ${bf16.reason}`);
  console.log(show(header));
  console.log(show(widths.map((w) => '-'.repeat(w))));
  for (const l of lines) console.log(show(l));
  if (bf16.available) console.log('faster: fp32 ms / bf16 ms (>1×: bf16 is faster); the ms include the reorders into bf16 (and oneDNN\'s layouts).');
  const impls = [...onednn.implementations()].filter(([key]) => !/pool|batch-norm/.test(key) && key.includes(`${batch}x`) || key.startsWith('matmul'));
  for (const [key, impl] of impls) console.log(`  ${key}: ${impl}`);
}

if (!convsOnly) poolsAndBatchNorm();
convolutions();
