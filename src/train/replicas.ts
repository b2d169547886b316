// Data-parallel steps over replica threads, for backends that run one core each (wasm on OpenBLAS or XNNPACK:
// wasm under Node has no working thread pool; cpu is single-threaded JavaScript).
//
// Each of N threads holds a replica of the model on its own backend (replica-thread.ts). A step splits the batch
// into N contiguous slices, sends every replica the current weights with its slice, and each answers with the
// gradients of its slice's mean loss (gradients.ts, the pass one replica runs in the training thread). Here the
// gradients are averaged by rows, which is the gradient of the whole batch's mean loss, and the optimiser is
// applied once; the non-trainable weights (batch-norm moving statistics) become the replicas' values averaged
// by rows. Replica i draws its dropout masks from the step's seeds shifted by i, so slices draw different masks.
//
// While replicas run, the native kernels (oneDNN or OpenBLAS) are held to one thread per replica
// (tf/native/kernels.ts): the replicas are the parallelism. Per CPU-second two replicas do nearly as much work as
// one in the training thread, so the gain is about the number of free cores (bench/train.ts).
import { Worker } from 'node:worker_threads';
import type { LayersModel, NamedTensorMap, Optimizer, Variable } from '@tensorflow/tfjs';
import type { BackendName } from '../tf/backend.js';
import type { OneDnnPrecision } from '../tf/native/onednn.js';
import { limitNativeThreads } from '../tf/native/kernels.js';
import type { Tf } from '../tf/types.js';
import { readWeights, type ReplicaGradients, type StepRows, type TrainStep } from './gradients.js';

/** Starts `count` replica threads on the training thread's backend, with the model's weights. */
export async function startReplicas(tf: Tf, model: LayersModel, optimizer: Optimizer, count: number, precision: OneDnnPrecision = 'fp32'): Promise<TrainStep> {
  const restoreNativeThreads = limitNativeThreads(1);
  try {
    const backend = tf.getBackend() as BackendName;
    const topology = model.toJSON(null, false) as object;
    const pool = await Promise.all(Array.from({ length: count }, () => ReplicaThread.start(backend, topology, readWeights(model), precision)));
    return new Replicas(tf, model, optimizer, pool, restoreNativeThreads);
  } catch (err) {
    restoreNativeThreads();
    throw err;
  }
}

class Replicas implements TrainStep {
  readonly replicas: number;

  constructor(
    private tf: Tf,
    private model: LayersModel,
    private optimizer: Optimizer,
    private pool: ReplicaThread[],
    private restoreNativeThreads: () => void,
  ) {
    this.replicas = pool.length;
  }

  async run(batch: StepRows, targets: Float32Array, sampleWeights: Float32Array | null, dropoutSeeds: number[]) {
    const { tf, model } = this;
    const n = batch.size;
    // A batch smaller than the pool (an epoch's last rows) goes to as many replicas as it has rows; every
    // replica gets the current weights with its next step anyway.
    const active = this.pool.slice(0, Math.min(n, this.pool.length));
    const perRow = batch.x.length / n;
    const classes = targets.length / n;
    // Every step carries the model's current weights: the caller may have changed them between steps
    // (e.g. restored a checkpoint), so the replicas never train on a stale copy.
    const weights = readWeights(model);
    const shares: ReplicaGradients[] = await Promise.all(
      active.map((replica, i) => {
        const start = Math.floor((i * n) / active.length);
        const end = Math.floor(((i + 1) * n) / active.length);
        return replica.step(weights, {
          x: batch.x.slice(start * perRow, end * perRow),
          labels: Uint8Array.from({ length: end - start }, (_, j) => batch.labels[start + j]),
          targets: targets.slice(start * classes, end * classes),
          sampleWeights: sampleWeights?.slice(start, end) ?? null,
          n: end - start,
          dropoutSeeds: dropoutSeeds.map((seed) => (seed + i) % 2 ** 31),
        });
      }),
    );
    const byRows = shares.map((s) => s.n / n);
    const named: NamedTensorMap = {};
    model.trainableWeights.forEach((w, k) => {
      named[(w.read() as Variable).name] = tf.tensor(weightedSum(shares.map((s) => s.grads[k]), byRows), w.shape as number[]);
    });
    this.optimizer.applyGradients(named);
    tf.dispose(Object.values(named));
    model.nonTrainableWeights.forEach((w, k) => {
      const t = tf.tensor(weightedSum(shares.map((s) => s.nonTrainable[k]), byRows), w.shape as number[]);
      (w.read() as Variable).assign(t);
      t.dispose();
    });
    return {
      loss: shares.reduce((a, s) => a + s.loss * s.n, 0) / n,
      correct: shares.reduce((a, s) => a + s.correct, 0),
    };
  }

  async dispose(): Promise<void> {
    try {
      await Promise.all(this.pool.map((r) => r.terminate()));
    } finally {
      this.restoreNativeThreads();
    }
  }
}

/**
 * Σ fᵢ·arrays[i], written into arrays[0] (the shares' arrays are this thread's own, transferred from the
 * replicas): one pass, two shares at a time, no allocation.
 */
function weightedSum(arrays: Float32Array[], factors: number[]): Float32Array {
  const out = arrays[0];
  const f0 = factors[0];
  if (arrays.length === 1) {
    for (let j = 0; j < out.length; j++) out[j] *= f0;
    return out;
  }
  const [b, f1] = [arrays[1], factors[1]];
  for (let j = 0; j < out.length; j++) out[j] = out[j] * f0 + b[j] * f1;
  for (let i = 2; i < arrays.length; i++) {
    const [c, f] = [arrays[i], factors[i]];
    for (let j = 0; j < out.length; j++) out[j] += c[j] * f;
  }
  return out;
}

/** A replica's slice of a step, as replica-thread.ts takes it. */
export interface ReplicaRows {
  x: Float32Array;
  labels: Uint8Array;
  targets: Float32Array;
  sampleWeights: Float32Array | null;
  n: number;
  dropoutSeeds: number[];
}

/** One thread holding a replica; one request in flight at a time. */
class ReplicaThread {
  private waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;

  private constructor(private thread: Worker) {
    thread.on('message', (msg: { type: string; message?: string; result?: ReplicaGradients }) => {
      const w = this.waiting;
      this.waiting = null;
      if (!w) return;
      if (msg.type === 'error') w.reject(new Error(`training replica failed: ${msg.message}`));
      else w.resolve(msg.type === 'gradients' ? msg.result : undefined);
    });
    thread.on('error', (err) => {
      this.waiting?.reject(err);
      this.waiting = null;
    });
    thread.on('exit', (code) => {
      this.waiting?.reject(new Error(`training replica thread exited with code ${code}`));
      this.waiting = null;
    });
  }

  static async start(backend: BackendName, topology: object, weights: Float32Array[], precision: OneDnnPrecision): Promise<ReplicaThread> {
    const replica = new ReplicaThread(new Worker(new URL('./replica-thread.js', import.meta.url)));
    await replica.request({ type: 'init', backend, topology, weights, precision });
    return replica;
  }

  private request(msg: object, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.waiting) throw new Error('training replica is busy');
    // Keep the process alive only while a request is out, so a forgotten dispose() cannot hang exit.
    this.thread.ref();
    return new Promise<unknown>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.thread.postMessage(msg, transfer);
    }).finally(() => this.thread.unref());
  }

  step(weights: Float32Array[], rows: ReplicaRows): Promise<ReplicaGradients> {
    // The slices are fresh copies: hand their buffers over instead of copying them again.
    const transfer = [rows.x, rows.labels, rows.targets, ...(rows.sampleWeights ? [rows.sampleWeights] : [])].map((a) => a.buffer as ArrayBuffer);
    return this.request({ type: 'step', weights, ...rows }, transfer) as Promise<ReplicaGradients>;
  }

  async terminate(): Promise<void> {
    await this.thread.terminate();
  }
}
