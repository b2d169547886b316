// A replica's thread (replicas.ts starts it): holds one model replica on its own tfjs backend, takes the current
// weights and a slice of the batch, and answers with the gradients of the pass the training thread runs for one
// replica (gradients.ts). Protocol (all messages plain objects):
//   in  {type:'init', backend, topology, weights, precision}   out {type:'ready'} | {type:'error', message}
//   in  {type:'step', weights, ...ReplicaRows}      out {type:'gradients', result} | {type:'error', message}
import { parentPort } from 'node:worker_threads';
import type { LayersModel } from '@tensorflow/tfjs';
import { loadTf, type BackendName } from '../tf/backend.js';
import { limitNativeThreads } from '../tf/native/kernels.js';
import { setOneDnnPrecision, type OneDnnPrecision } from '../tf/native/onednn.js';
import type { Tf } from '../tf/types.js';
import { assignWeights, reseedDropout, replicaGradients } from './gradients.js';
import type { ReplicaRows } from './replicas.js';

type InitMessage = { type: 'init'; backend: BackendName; topology: object; weights: Float32Array[]; precision: OneDnnPrecision };
type StepMessage = { type: 'step'; weights: Float32Array[] } & ReplicaRows;

if (!parentPort) throw new Error('replica-thread must run in a worker thread');
const port = parentPort;
let tf: Tf;
let model: LayersModel;

port.on('message', async (msg: InitMessage | StepMessage) => {
  try {
    if (msg.type === 'init') {
      tf = (await loadTf(msg.backend)).tf;
      // One thread per replica: oneDNN's OpenMP count is per calling thread, so the parent's limit does not reach here.
      limitNativeThreads(1);
      // This thread runs nothing but the replica's steps: its precision is theirs for good.
      if (msg.precision !== 'fp32') setOneDnnPrecision(msg.precision);
      model = await tf.models.modelFromJSON({ modelTopology: msg.topology } as never);
      assignWeights(tf, model, msg.weights);
      port.postMessage({ type: 'ready' });
    } else {
      assignWeights(tf, model, msg.weights);
      reseedDropout(model, msg.dropoutSeeds);
      const result = replicaGradients(tf, model, { x: msg.x, labels: msg.labels, size: msg.n }, msg.targets, msg.sampleWeights);
      const transfer = [...result.grads, ...result.nonTrainable].map((a) => a.buffer as ArrayBuffer);
      port.postMessage({ type: 'gradients', result }, transfer);
    }
  } catch (err) {
    port.postMessage({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
});
