// summary.json: the build-model stage's Keras-like summary of the network, one row per layer with its output
// shape and parameter count (src/model/summary.ts makes it from a built model). The report's model table reads it
// through readModelSummary.
//
// The file carries no version field; this shape, the only one build-model has written, is version 1.
import { Checker, readJsonFile, writeJsonFile } from './json-file.js';

export const MODEL_SUMMARY_FILE = 'summary.json';
export const MODEL_SUMMARY_KIND = 'model-summary';
export const MODEL_SUMMARY_FORMAT_VERSION = 1;

/** A shape with null for the batch dimension, e.g. [null, 46, 46, 32]. */
export type Shape = Array<number | null>;

export interface LayerRow {
  name: string;
  className: string;
  /** Output shape with null for the batch dimension (a sequential model's layers have one output). */
  outputShape: Shape;
  params: number;
  trainableParams: number;
}

export interface ModelSummary {
  inputShape: Shape;
  layers: LayerRow[];
  totalParams: number;
  trainableParams: number;
  nonTrainableParams: number;
}

const WRITER = 'the build-model stage';

export async function writeModelSummary(file: string, value: ModelSummary): Promise<void> {
  await writeJsonFile(file, value);
}

/** A shape: whole numbers, null for the batch dimension. */
function checkShape(c: Checker, value: unknown, path: string): Shape {
  return c.list(value, path, (d, at) => (d === null ? null : c.index(d, at)));
}

/** A parsed summary.json, checked; `file` names it in errors. */
export function parseModelSummary(json: unknown, file: string): ModelSummary {
  const c = new Checker({ file, writer: WRITER });
  const s = c.object(json, '');
  return {
    inputShape: checkShape(c, s.inputShape, 'inputShape'),
    layers: c.list(s.layers, 'layers', (value, path) => {
      const l = c.object(value, path);
      return {
        name: c.string(l.name, c.at(path, 'name')),
        className: c.string(l.className, c.at(path, 'className')),
        outputShape: checkShape(c, l.outputShape, c.at(path, 'outputShape')),
        params: c.number(l.params, c.at(path, 'params')),
        trainableParams: c.number(l.trainableParams, c.at(path, 'trainableParams')),
      };
    }),
    totalParams: c.number(s.totalParams, 'totalParams'),
    trainableParams: c.number(s.trainableParams, 'trainableParams'),
    nonTrainableParams: c.number(s.nonTrainableParams, 'nonTrainableParams'),
  };
}

export async function readModelSummary(file: string): Promise<ModelSummary> {
  return parseModelSummary(await readJsonFile({ file, writer: WRITER }), file);
}
