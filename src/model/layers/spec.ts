// The YAML layer spec and how it becomes a TensorFlow.js model.
//
// A spec is a list of one-key objects, `- conv2d: {filters: 32, kernelSize: 3}`. Each layer type is data (one
// module in this folder, listed in index.ts): its Keras class name and a JSON Schema for its params. The spec is
// turned into the same Keras-style topology JSON that model.json holds ({class_name: 'Sequential', config:
// {layers: [{class_name, config}]}}) and tfjs's own serialization registry builds the model from it, so there is
// no hand-written switch of constructors. This module is light (no tfjs import) so stage param schemas can use it
// at validation time.
import type { JsonSchema } from '../../stage.js';
import { LAYER_TYPES, type LayerType } from './index.js';

/**
 * Initialisers by spec name, as variance scaling: variance scale / fan, drawn uniform or from a normal cut at two
 * standard deviations. tfjs cuts the normal without widening it, so its normals have 0.774 of the variance
 * Keras's have; the scales of the normal ones here are divided by that factor (0.87962566²), as Keras 3 does.
 * torchUniform: scale 1/3 over fan-in, uniform, which is U(±1/√fan_in).
 */
const TRUNCATION = 0.87962566 ** 2;
const scaling = (scale: number, mode: string, distribution: 'uniform' | 'normal') => ({
  className: 'VarianceScaling',
  config: { scale: distribution === 'normal' ? scale / TRUNCATION : scale, mode, distribution },
});
const KERNEL_INITIALIZERS: Record<string, { className: string; config?: Record<string, unknown> }> = {
  // The class itself, so that naming the default gives the same model.json as leaving it out.
  glorotUniform: { className: 'GlorotUniform' },
  glorotNormal: scaling(1, 'fan_avg', 'normal'),
  heUniform: scaling(2, 'fan_in', 'uniform'),
  heNormal: scaling(2, 'fan_in', 'normal'),
  lecunUniform: scaling(1, 'fan_in', 'uniform'),
  lecunNormal: scaling(1, 'fan_in', 'normal'),
  torchUniform: scaling(1 / 3, 'fan_in', 'uniform'),
};

/** JSON Schema of one layer's params. */
export function layerParamsSchema(type: LayerType): JsonSchema {
  return {
    type: type.paramless ? ['object', 'null'] : 'object',
    description: `${type.className}: ${type.description}`,
    properties: type.properties,
    ...(type.required ? { required: type.required } : {}),
    additionalProperties: false,
  };
}

/** JSON Schema of the whole `layers:` list: each item an object with exactly one known layer-type key. */
export function layersSchema(): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [name, type] of Object.entries(LAYER_TYPES)) properties[name] = layerParamsSchema(type);
  return {
    type: 'array',
    minItems: 1,
    description:
      'The network, first layer first. Each item is one layer type with its params, e.g. ' +
      '`- conv2d: {filters: 32, kernelSize: 3, activation: relu}`. Types: ' +
      Object.keys(LAYER_TYPES).join(', ') +
      '. See docs/layers.md.',
    items: {
      type: 'object',
      description: 'One layer: a single key naming its type, whose value holds its params.',
      properties,
      minProperties: 1,
      maxProperties: 1,
      additionalProperties: false,
    },
  };
}

export type LayerSpecItem = Record<string, Record<string, unknown> | null>;

/** Keras-style topology JSON (what model.json's `modelTopology` holds). */
export interface ModelTopology {
  class_name: 'Sequential';
  config: { name: string; layers: Array<{ class_name: string; config: Record<string, unknown> }> };
  keras_version: string;
  backend: string;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Bias seeds come from their own stream, so asking for them leaves every kernel's seed as it was. */
const BIAS_STREAM = 0x5bd1e995;

/** Indices of the layers whose bias is drawn from U(±1/√fan_in) (biasInitializer: torchUniform). */
export function fanInBiasLayers(layers: LayerSpecItem[]): number[] {
  return layers.flatMap((item, index) => (Object.values(item)[0]?.biasInitializer === 'torchUniform' ? [index] : []));
}

/**
 * The topology with the fan-in bounds of each torchUniform bias filled in, from the kernel shapes of a model built
 * from it: [kh, kw, in, out] (conv; the pointwise [1, 1, in, out] for separable) or [in, out] (dense).
 */
export function withFanInBiases(topology: ModelTopology, layers: number[], kernelShape: (index: number) => number[]): ModelTopology {
  const out = structuredClone(topology);
  for (const index of layers) {
    const shape = kernelShape(index);
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    const initializer = out.config.layers[index].config.bias_initializer as { config: Record<string, number> };
    initializer.config.minval = -bound;
    initializer.config.maxval = bound;
  }
  return out;
}

/** Seed for the n-th random thing in a model built with `seed`: spread so nearby seeds give unrelated weights. */
export function derivedSeed(seed: number, n: number): number {
  let z = (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(n + 1, 0x85ebca6b)) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x2c1b3c6d) >>> 0;
  z = Math.imul(z ^ (z >>> 12), 0x297a2d39) >>> 0;
  return (z ^ (z >>> 15)) >>> 0;
}

/**
 * The Sequential topology for a spec: layer names `conv2d_1`, `conv2d_2`, `dense_1` … (stable, so model.json
 * bytes do not depend on how many models the process built before), and a seed on every initialiser.
 */
export function specToTopology(layers: LayerSpecItem[], inputShape: number[], seed: number): ModelTopology {
  const counts: Record<string, number> = {};
  let seedIndex = 0;
  const out: ModelTopology['config']['layers'] = [];
  layers.forEach((item, index) => {
    const keys = Object.keys(item);
    if (keys.length !== 1) throw new Error(`layers[${index}] must have exactly one key (the layer type), has ${keys.length}`);
    const typeName = keys[0];
    const type = LAYER_TYPES[typeName];
    if (!type) {
      throw new Error(`layers[${index}]: unknown layer type '${typeName}'; known: ${Object.keys(LAYER_TYPES).join(', ')}`);
    }
    const params = item[typeName] ?? {};
    counts[typeName] = (counts[typeName] ?? 0) + 1;
    const config: Record<string, unknown> = { name: `${snake(typeName)}_${counts[typeName]}`, trainable: true };
    if (index === 0) config.batch_input_shape = [null, ...inputShape];
    for (const [key, value] of Object.entries(params)) {
      if (key === 'kernelInitializer' || key === 'biasInitializer') continue;
      if (key === 'l2') {
        config.kernel_regularizer = { class_name: 'L1L2', config: { l1: 0, l2: value } };
      } else {
        config[snake(key)] = key === 'activation' ? snake(String(value)) : value;
      }
    }
    const kernel = KERNEL_INITIALIZERS[String(params.kernelInitializer ?? '')];
    for (const [key, className] of Object.entries(type.seededInitializers ?? {})) {
      config[key] = kernel
        ? { class_name: kernel.className, config: { ...kernel.config, seed: derivedSeed(seed, seedIndex++) } }
        : { class_name: className, config: { seed: derivedSeed(seed, seedIndex++) } };
    }
    if (typeof params.biasInitializer === 'number') {
      config.bias_initializer = { class_name: 'Constant', config: { value: params.biasInitializer } };
    } else if (params.biasInitializer === 'torchUniform') {
      // The bounds need the layer's fan-in, known once the model is built: see withFanInBiases.
      config.bias_initializer = { class_name: 'RandomUniform', config: { minval: 0, maxval: 0, seed: derivedSeed(seed ^ BIAS_STREAM, index) } };
    }
    if (type.seededLayer) config.seed = derivedSeed(seed, seedIndex++);
    out.push({ class_name: type.className, config });
  });
  return { class_name: 'Sequential', config: { name: 'model', layers: out }, keras_version: 'tfjs-layers', backend: 'tensor_flow.js' };
}
