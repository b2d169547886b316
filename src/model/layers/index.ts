// Every layer type a build-model spec can name, by its name in the spec. A new layer type is one module in this
// folder (its Keras class, param schema and output shape: see layer-type.ts) and one entry here; the order here
// is the order of the editor schema and of the types listed in docs.
import { activation } from './activation.js';
import { averagePooling2d } from './average-pooling2d.js';
import { batchNormalization } from './batch-normalization.js';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { dropout } from './dropout.js';
import { flatten } from './flatten.js';
import { globalAveragePooling2d } from './global-average-pooling2d.js';
import type { LayerType } from './layer-type.js';
import { maxPooling2d } from './max-pooling2d.js';
import { separableConv2d } from './separable-conv2d.js';

export type { LayerParams, LayerType, ShapeStep } from './layer-type.js';

export const LAYER_TYPES: Record<string, LayerType> = {
  conv2d,
  separableConv2d,
  maxPooling2d,
  averagePooling2d,
  globalAveragePooling2d,
  batchNormalization,
  dropout,
  flatten,
  dense,
  activation,
};
