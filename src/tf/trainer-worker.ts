// Worker-thread side of the data-parallel trainer (see trainer.ts): holds one model replica on its own
// tfjs backend, takes weights + a shard, answers with gradients. Protocol (all messages plain objects):
//   in  {type:'init', backend, topology, weights}        out {type:'ready'} | {type:'error', message}
//   in  {type:'step', weights|null, x, y, n, loss, dropoutSeeds?}  out {type:'shard', result} | {type:'error', message}
import { parentPort } from 'node:worker_threads';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadTf, type BackendName, type Tf } from './backend.js';
import { limitNativeThreads } from './native/kernels.js';
import { assignWeights, batchTensors, computeShard, type LossName } from './replica.js';

type InitMessage = { type: 'init'; backend: BackendName; topology: object; weights: Float32Array[] };
type StepMessage = {
  type: 'step';
  weights: Float32Array[] | null;
  x: Float32Array;
  y: Float32Array | Int32Array;
  n: number;
  loss: LossName;
  dropoutSeeds?: number[];
};

if (!parentPort) throw new Error('trainer-worker must run in a worker thread');
const port = parentPort;
let tf: Tf;
let model: LayersModel;

port.on('message', async (msg: InitMessage | StepMessage) => {
  try {
    if (msg.type === 'init') {
      tf = (await loadTf(msg.backend)).tf;
      // One thread per replica: oneDNN's OpenMP count is per calling thread, so the parent's limit does not reach here.
      limitNativeThreads(1);
      model = await tf.models.modelFromJSON({ modelTopology: msg.topology } as never);
      assignWeights(tf, model, msg.weights);
      port.postMessage({ type: 'ready' });
    } else {
      if (msg.weights) assignWeights(tf, model, msg.weights);
      // Seeded dropout repeats one mask for a fixed seed, so the parent sends fresh seeds every step.
      if (msg.dropoutSeeds) {
        const dropouts = model.layers.filter((l) => l.getClassName() === 'Dropout') as unknown as Array<{ seed?: number }>;
        dropouts.forEach((layer, j) => (layer.seed = msg.dropoutSeeds![j % msg.dropoutSeeds!.length]));
      }
      const { xs, ys } = batchTensors(tf, model, msg.x, msg.y, msg.n);
      const result = computeShard(tf, model, xs, ys, msg.loss);
      tf.dispose([xs, ys]);
      const transfer = [...result.grads, ...result.nonTrainable].map((a) => a.buffer as ArrayBuffer);
      port.postMessage({ type: 'shard', result }, transfer);
    }
  } catch (err) {
    port.postMessage({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
