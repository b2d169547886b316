// Data-parallel training across worker threads, for machines where tfjs runs one core per backend
// (wasm under Node has no working thread pool; cpu is single-threaded JS).
//
// API
//   const trainer = await createTrainer({ model, optimizer, workers: suggestedWorkers(backend) });
//   for (each batch) { const { loss, acc } = await trainer.trainBatch(x, y); }   // x: Float32Array [n,...inputShape]
//   await trainer.dispose();                                                     // y: labels (n) or one-hot (n*classes)
//
// `model` is the caller's compiled-or-not tf.LayersModel and stays the source of truth: after each
// trainBatch its weights (trainable and non-trainable) hold the updated values, so the caller saves,
// evaluates or predicts with it as usual. `optimizer` is any tf.Optimizer; it is applied once per
// batch, in the calling thread, to the batch-size-weighted mean of the shards' gradients, which
// equals the full-batch gradient of a mean loss.
//
// workers: 1 (default) trains in the calling thread, no threads involved. workers: k ≥ 2 starts k
// worker threads, each with its own backend and model replica; each batch is split into k contiguous
// shards, every replica gets the current weights with its shard, and its gradients come back.
// Differences from single-replica training, as in any data-parallel setup without sync batch-norm:
// batch-norm normalises each shard with the shard's own statistics, and the moving mean/variance
// kept afterwards are the shards' values averaged (weighted by shard size). Dropout masks are drawn
// independently per replica.
//
// Call loadTf() first (the calling thread's backend is used for the optimizer step and, by default,
// in the workers). Workers run the compiled sibling module trainer-worker.js. x and y are not kept
// or modified. One trainBatch at a time; check an abort signal between batches. Speed: per CPU-second
// two workers do nearly as much work as one in-process replica, so the gain is about the number of free
// cores (see bench/train.ts). While workers run, the native kernels (oneDNN or OpenBLAS) are held to one
// thread per replica (native/kernels.ts).
//
// Loss: 'categoricalCrossentropy' on softmax outputs (one-hot or label targets; labels are one-hot
// encoded internally, so 'sparseCategoricalCrossentropy' is accepted as a synonym). Single-output
// classifiers only.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { LayersModel, Optimizer, Tensor, Variable, NamedTensorMap } from '@tensorflow/tfjs';
import type { BackendName, Tf } from './backend.js';
import { batchTensors, readWeights, type LossName, type ShardResult } from './replica.js';
import { limitNativeThreads } from './native/kernels.js';

export interface TrainerOptions {
  model: LayersModel;
  optimizer: Optimizer;
  /** Worker threads; 1 = train in the calling thread. Default 1. */
  workers?: number;
  /** Backend each worker loads. Default: the calling thread's active backend (what loadTf chose). */
  backend?: BackendName;
  loss?: LossName;
}

export interface BatchResult {
  /** Mean loss over the batch (before the update). */
  loss: number;
  /** Fraction of the batch classified correctly (before the update). */
  acc: number;
  n: number;
}

export interface StepOptions {
  /**
   * One seed per Dropout layer (model order) for this step, so masks differ between steps yet are
   * reproducible. Replica i uses seed + i, so shards draw different masks. In-process training leaves
   * dropout to the caller (set the layers' `seed` directly).
   */
  dropoutSeeds?: number[];
}

export interface Trainer {
  readonly workers: number;
  trainBatch(x: Float32Array, y: Float32Array | Int32Array, options?: StepOptions): Promise<BatchResult>;
  /** Current weights in model.weights order (copies). */
  getWeights(): Float32Array[];
  /** Stops the workers. The model stays usable. */
  dispose(): Promise<void>;
}

function rowsOf(model: LayersModel, x: Float32Array): number {
  const per = (model.inputs[0].shape.slice(1) as number[]).reduce((a, b) => a * b, 1);
  if (x.length % per !== 0) throw new Error(`input has ${x.length} values, not a whole number of ${per}-value rows`);
  return x.length / per;
}

/**
 * A sensible worker count: one per core for the single-threaded backends (wasm, cpu), 1 for native
 * TensorFlow (it already uses every core). Each wasm replica of the paper CNN at batch 64/k needs
 * roughly 1.4/k GB plus ~0.3 GB.
 */
export function suggestedWorkers(backend: BackendName, cores = availableParallelism()): number {
  return backend === 'tensorflow' ? 1 : Math.max(1, Math.min(cores, 4));
}

export async function createTrainer(opts: TrainerOptions): Promise<Trainer> {
  const { model, optimizer } = opts;
  const loss = opts.loss ?? 'categoricalCrossentropy';
  const workers = Math.max(1, Math.floor(opts.workers ?? 1));
  const tf = (await import('@tensorflow/tfjs')) as Tf;
  if (workers === 1) return new LocalTrainer(tf, model, optimizer, loss);
  // One native-kernel thread per replica: the workers are the parallelism (restored on dispose; each
  // worker holds its own thread to one as well, see trainer-worker.ts).
  const restoreNativeThreads = limitNativeThreads(1);
  try {
    const pool = await Promise.all(
      Array.from({ length: workers }, () =>
        WorkerReplica.start(opts.backend ?? (tf.getBackend() as BackendName), model.toJSON(null, false) as object, readWeights(model)),
      ),
    );
    return new ParallelTrainer(tf, model, optimizer, loss, pool, restoreNativeThreads);
  } catch (err) {
    restoreNativeThreads();
    throw err;
  }
}

class LocalTrainer implements Trainer {
  readonly workers = 1;
  constructor(
    private tf: Tf,
    private model: LayersModel,
    private optimizer: Optimizer,
    private loss: LossName,
  ) {}

  async trainBatch(x: Float32Array, y: Float32Array | Int32Array): Promise<BatchResult> {
    const { tf, model } = this;
    const n = rowsOf(model, x);
    const { xs, ys } = batchTensors(tf, model, x, y, n);
    try {
      const vars = model.trainableWeights.map((w) => w.read() as Variable);
      let correct: Tensor | null = null;
      const cost = this.optimizer.minimize(
        () => {
          const probs = model.apply(xs, { training: true }) as Tensor;
          correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(probs, -1), tf.argMax(ys, -1)), 'float32')));
          return tf.mean(tf.metrics.categoricalCrossentropy(ys, probs)) as never;
        },
        true,
        vars,
      )!;
      const result = { loss: cost.dataSync()[0], acc: (correct as unknown as Tensor).dataSync()[0] / n, n };
      tf.dispose([cost, correct as unknown as Tensor]);
      return result;
    } finally {
      tf.dispose([xs, ys]);
    }
  }

  getWeights(): Float32Array[] {
    return readWeights(this.model);
  }

  async dispose(): Promise<void> {}
}

class ParallelTrainer implements Trainer {
  readonly workers: number;

  constructor(
    private tf: Tf,
    private model: LayersModel,
    private optimizer: Optimizer,
    private loss: LossName,
    private pool: WorkerReplica[],
    private restoreNativeThreads: () => void,
  ) {
    this.workers = pool.length;
  }

  async trainBatch(x: Float32Array, y: Float32Array | Int32Array, options: StepOptions = {}): Promise<BatchResult> {
    const { tf, model } = this;
    const n = rowsOf(model, x);
    // A batch smaller than the pool (an epoch's last rows) goes to as many replicas as it has rows; every
    // replica gets the current weights with its next step anyway.
    const active = this.pool.slice(0, Math.min(n, this.pool.length));
    const perRow = x.length / n;
    const yPerRow = y.length / n;
    // Every step carries the model's current weights: the caller may have changed them between steps
    // (e.g. restored a checkpoint), so the replicas never train on a stale copy.
    const weights = readWeights(model);
    const shards: ShardResult[] = await Promise.all(
      active.map((replica, i) => {
        const start = Math.floor((i * n) / active.length);
        const end = Math.floor(((i + 1) * n) / active.length);
        return replica.step(
          weights,
          x.slice(start * perRow, end * perRow),
          y.slice(start * yPerRow, end * yPerRow),
          end - start,
          this.loss,
          options.dropoutSeeds?.map((seed) => (seed + i) % 2 ** 31),
        );
      }),
    );
    // Weighted means: the full-batch gradient of the mean loss, and size-weighted moving statistics.
    const trainable = model.trainableWeights;
    const named: NamedTensorMap = {};
    trainable.forEach((w, k) => {
      named[(w.read() as Variable).name] = tf.tensor(weightedSum(shards.map((s) => s.grads[k]), shards.map((s) => s.n / n)), w.shape as number[]);
    });
    this.optimizer.applyGradients(named);
    tf.dispose(Object.values(named));
    model.nonTrainableWeights.forEach((w, k) => {
      const t = tf.tensor(weightedSum(shards.map((s) => s.nonTrainable[k]), shards.map((s) => s.n / n)), w.shape as number[]);
      (w.read() as Variable).assign(t);
      t.dispose();
    });
    const lossSum = shards.reduce((a, s) => a + s.loss * s.n, 0);
    const correct = shards.reduce((a, s) => a + s.correct, 0);
    return { loss: lossSum / n, acc: correct / n, n };
  }

  getWeights(): Float32Array[] {
    return readWeights(this.model);
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
 * Σ fᵢ·arrays[i], written into arrays[0] (the shards' arrays are this thread's own, transferred from the
 * workers): one pass, two shards at a time, no allocation.
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

/** One worker thread holding a replica; one request in flight at a time. */
class WorkerReplica {
  private waiting: { resolve: (v: unknown) => void; reject: (e: Error) => void } | null = null;

  private constructor(private worker: Worker) {
    worker.on('message', (msg: { type: string; message?: string; result?: ShardResult }) => {
      const w = this.waiting;
      this.waiting = null;
      if (!w) return;
      if (msg.type === 'error') w.reject(new Error(`training worker failed: ${msg.message}`));
      else w.resolve(msg.type === 'shard' ? msg.result : undefined);
    });
    worker.on('error', (err) => {
      this.waiting?.reject(err);
      this.waiting = null;
    });
    worker.on('exit', (code) => {
      this.waiting?.reject(new Error(`training worker exited with code ${code}`));
      this.waiting = null;
    });
  }

  static async start(backend: BackendName, topology: object, weights: Float32Array[]): Promise<WorkerReplica> {
    const replica = new WorkerReplica(new Worker(new URL('./trainer-worker.js', import.meta.url)));
    await replica.request({ type: 'init', backend, topology, weights });
    return replica;
  }

  private request(msg: object, transfer: ArrayBuffer[] = []): Promise<unknown> {
    if (this.waiting) throw new Error('training worker is busy');
    // Keep the process alive only while a request is out, so a forgotten dispose() cannot hang exit.
    this.worker.ref();
    return new Promise<unknown>((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.worker.postMessage(msg, transfer);
    }).finally(() => this.worker.unref());
  }

  step(
    weights: Float32Array[] | null,
    x: Float32Array,
    y: Float32Array | Int32Array,
    n: number,
    loss: LossName,
    dropoutSeeds?: number[],
  ): Promise<ShardResult> {
    // x and y are fresh slices: hand their buffers over instead of copying them again.
    return this.request({ type: 'step', weights, x, y, n, loss, dropoutSeeds }, [x.buffer as ArrayBuffer, y.buffer as ArrayBuffer]) as Promise<ShardResult>;
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
  }
}
