// A model folder in the TensorFlow.js layers format: model.json (topology + weights manifest) and weights.bin,
// the same files tfjs's file:// handler writes, so `tf.loadLayersModel` and the tfjs converter read them.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PipeError } from '../errors.js';
import { pathInside } from '../plain-path.js';
import type { Precision, Tf } from '../tf/backend.js';
import type { ModelTopology } from './layers/spec.js';

type LayersModel = import('@tensorflow/tfjs').LayersModel;
type WeightsManifestEntry = { name: string; shape: number[]; dtype: string };

/** What model.json holds, as far as pipe reads it. */
export interface ModelJson {
  modelTopology: object;
  weightsManifest: Array<{ paths: string[]; weights: WeightsManifestEntry[] }>;
  userDefinedMetadata?: Record<string, unknown>;
  [other: string]: unknown;
}

/** A model folder's model.json, and its weights files in manifest order: `path` as model.json names it, `file` on disk. */
export interface ModelFolder {
  json: ModelJson;
  weights: { path: string; file: string }[];
}

export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

/**
 * How a model folder's weights were trained, as the train stage records it in model.json's
 * `userDefinedMetadata.training` (tfjs keeps user-defined metadata through loadLayersModel, and `pipe export`
 * keeps this key beside its own `pipe`). Absent in a model that was never trained (build-model's) and in
 * models saved before it was recorded: read as unknown.
 */
export interface ModelTraining {
  /** What the training steps' convolutions and matrix products multiplied in (train's `precision`, resolved). */
  precision: Precision;
}

export const TRAINING_METADATA_KEY = 'training';
const PRECISIONS: readonly Precision[] = ['fp32', 'bf16'];

/** Build a model from Keras-style topology JSON through tfjs's serialization registry. */
export async function modelFromTopology(tf: Tf, topology: ModelTopology): Promise<LayersModel> {
  return tf.models.modelFromJSON({ modelTopology: topology as never });
}

function joinWeightData(tf: Tf, data: ArrayBuffer | ArrayBuffer[]): ArrayBuffer {
  return Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data;
}

/**
 * Write model.json and weights.bin into `dir` (created if needed); files appear whole (temp + rename). `training`:
 * how the weights were trained, recorded in model.json (see ModelTraining).
 */
export async function saveModel(tf: Tf, model: LayersModel, dir: string, options: { training?: ModelTraining } = {}): Promise<void> {
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
        ...(options.training ? { userDefinedMetadata: { [TRAINING_METADATA_KEY]: { precision: options.training.precision } } } : {}),
      };
      await writeFile(join(dir, `${WEIGHTS_BIN}.tmp`), weights);
      await rename(join(dir, `${WEIGHTS_BIN}.tmp`), join(dir, WEIGHTS_BIN));
      await writeFile(join(dir, `${MODEL_JSON}.tmp`), JSON.stringify(json, null, 1) + '\n');
      await rename(join(dir, `${MODEL_JSON}.tmp`), join(dir, MODEL_JSON));
      return { modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON', weightDataBytes: weights.byteLength } };
    }),
  );
}

/**
 * Read a model folder's model.json. Model folders arrive from other machines (a remote cache, a copied export),
 * so every weights file it names must be a plain relative path inside the folder, symbolic links resolved;
 * anything else (an absolute path, '..', a URL) is refused before any weights file is opened. Every reader of
 * model folders comes through here.
 */
export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const where = join(dir, MODEL_JSON);
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(where, 'utf8')) as ModelJson;
  } catch (err) {
    throw new PipeError(`cannot read the model ${where}: ${(err as Error).message}`, {
      hint: 'a model folder holds model.json and its weights, as `pipe export` and the train stage write them',
      cause: err,
    });
  }
  const malformed = (what: string) =>
    new PipeError(`${where}: ${what}`, { hint: 'model.json must be a TensorFlow.js layers model (modelTopology and weightsManifest: [{paths, weights}])' });
  if (!json || typeof json !== 'object' || !Array.isArray(json.weightsManifest)) throw malformed('no weightsManifest list');
  const weights: ModelFolder['weights'] = [];
  for (const group of json.weightsManifest) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw malformed('a weightsManifest group without paths and weights lists');
    for (const path of group.paths) {
      const inside = await pathInside(dir, path);
      if ('problem' in inside) {
        throw new PipeError(`${where} names the weights file ${JSON.stringify(path)}, which is not inside the model folder (${inside.problem})`, {
          hint: 'model.json may name only files in its own folder, like "weights.bin"; this one was altered or made by something else: train or export the model again',
        });
      }
      weights.push({ path, file: inside.path });
    }
  }
  return { json, weights };
}

/**
 * How the model of this model.json was trained (saveModel's `training`), or undefined where it does not say.
 * A record that is there but not one saveModel writes is refused: guessing would pick a precision silently.
 */
export function modelTraining(json: ModelJson, where = MODEL_JSON): ModelTraining | undefined {
  const record = json.userDefinedMetadata?.[TRAINING_METADATA_KEY];
  if (record === undefined) return undefined;
  const precision = (record as { precision?: unknown } | null)?.precision;
  if (typeof record !== 'object' || record === null || !PRECISIONS.includes(precision as Precision)) {
    throw new PipeError(`${where}: userDefinedMetadata.${TRAINING_METADATA_KEY}.precision must be ${PRECISIONS.join(' or ')}, found ${JSON.stringify(precision) ?? 'nothing'}`, {
      hint: 'the train stage records how it trained the model there; this model.json was altered or made by something else: train or export the model again',
    });
  }
  return { precision: precision as Precision };
}

/** How the model in folder `dir` was trained (see modelTraining). */
export async function readModelTraining(dir: string): Promise<ModelTraining | undefined> {
  return modelTraining((await readModelFolder(dir)).json, join(dir, MODEL_JSON));
}

/** Load a model folder written by saveModel (or by tfjs / the converter with a single weights file). */
export async function loadModel(tf: Tf, dir: string): Promise<LayersModel> {
  const { json, weights } = await readModelFolder(dir);
  const buffers: ArrayBuffer[] = [];
  for (const { file } of weights) {
    const bytes = await readFile(file);
    buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  }
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((group) => group.weights) as never,
      weightData: tf.io.CompositeArrayBuffer.join(buffers),
    }),
  );
}
