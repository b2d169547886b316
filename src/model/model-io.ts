// A model folder in the TensorFlow.js layers format: model.json (topology + weights manifest) and weights.bin,
// the same files tfjs's file:// handler writes, so `tf.loadLayersModel` and the tfjs converter read them.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tf } from '../tf/backend.js';
import type { ModelTopology } from './layer-spec.js';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type WeightsManifestEntry = { name: string; shape: number[]; dtype: string };

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/** Build a model from Keras-style topology JSON through tfjs's serialization registry. */
export async function modelFromTopology(tf: Tf, topology: ModelTopology): Promise<LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: topology as never });
}

function joinWeightData(tf: Tf, data: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  return Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
}

/** Write model.json and weights.bin into `dir` (created if needed); files appear whole (temp + rename). */
export async function saveModel(tf: Tf, model: LayersModel, dir: string, extra: Record<string, unknown> = {}): Promise<void> {
  await mkdir(dir, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(joinWeightData(tf, artifacts.weightData as ArrayBuffer | ArrayBuffer[]));
      const json = {
        format: 'layers-model',
        generatedBy: `TensorFlow.js tfjs-layers v${tf.version.tfjs}`,
        convertedBy: null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs }],
        ...extra,
      };
      await writeFile(join(dir, `${WEIGHTS_BIN}.tmp`), weights);
      await rename(join(dir, `${WEIGHTS_BIN}.tmp`), join(dir, WEIGHTS_BIN));
      await writeFile(join(dir, `${MODEL_JSON}.tmp`), JSON.stringify(json, null, 1) + '\n');
      await rename(join(dir, `${MODEL_JSON}.tmp`), join(dir, MODEL_JSON));
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}

/** Load a model folder written by saveModel (or by tfjs / the converter with a single weights file). */
export async function loadModel(tf: Tf, dir: string): Promise<LayersModel> {
  const json = JSON.parse(await readFile(join(dir, MODEL_JSON), 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: WeightsManifestEntry[] }>;
  };
  const weightSpecs: WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) {
      const bytes = await readFile(join(dir, p));
      buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    }
  }
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: weightSpecs as never,
      weightData: tf.io.CompositeArrayBuffer.join(buffers),
    }),
  );
}
