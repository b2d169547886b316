// The YAML layer spec and how it becomes a TensorFlow.js model.
//
// A spec is a list of one-key objects, `- conv2d: {filters: 32, kernelSize: 3}`. Each layer type is data (one
// module in this folder, listed in index.ts): its Keras class name and a JSON Schema for its params. The spec is
// turned into the same Keras-style topology JSON that model.json holds ({class_name: 'Sequential', config:
// {layers: [{class_name, config}]}}, or Keras's functional form when the spec has a residual block: see
// residual.ts) and tfjs's own serialization registry builds the model from it, so there is no hand-written
// switch of constructors. This module is light (no tfjs import) so stage param schemas can use it
// at validation time.
import type { JsonSchema } from '../../stage.js';
import { LAYER_TYPES, type LayerType } from './index.js';
import { RESIDUAL, residualSchema, shortcutFor, type ResidualParams } from './residual.js';

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

/** JSON Schema of one item of a layer list: an object with exactly one key, a layer type in `types`. */
function itemSchema(properties: Record<string, JsonSchema>): JsonSchema {
  return {
    type: 'object',
    description: 'One layer: a single key naming its type, whose value holds its params.',
    properties,
    minProperties: 1,
    maxProperties: 1,
    additionalProperties: false,
  };
}

/** JSON Schema of the whole `layers:` list: each item an object with exactly one known layer-type key, or a residual block. */
export function layersSchema(): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  for (const [name, type] of Object.entries(LAYER_TYPES)) properties[name] = layerParamsSchema(type);
  return {
    type: 'array',
    minItems: 1,
    description:
      'The network, first layer first. Each item is one layer type with its params, e.g. ' +
      '`- conv2d: {filters: 32, kernelSize: 3, activation: relu}`. Types: ' +
      [...Object.keys(LAYER_TYPES), RESIDUAL].join(', ') +
      '. See docs/layers.md.',
    items: itemSchema({ ...properties, [RESIDUAL]: residualSchema(itemSchema(properties)) }),
  };
}

export type LayerSpecItem = Record<string, Record<string, unknown> | null>;

/** One layer of a topology; the functional form also names it and lists the layers it takes its input from. */
export interface TopologyLayer {
  class_name: string;
  config: Record<string, unknown>;
  name?: string;
  inbound_nodes?: Array<Array<[string, number, number, Record<string, never>]>>;
}

/**
 * Keras-style topology JSON (what model.json's `modelTopology` holds): Sequential for a plain list of layers,
 * the functional form ('Model', with input and output layers) when the spec has a residual block.
 */
export interface ModelTopology {
  class_name: 'Sequential' | 'Model';
  config: {
    name: string;
    layers: TopologyLayer[];
    input_layers?: Array<[string, number, number]>;
    output_layers?: Array<[string, number, number]>;
  };
  keras_version: string;
  backend: string;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Bias seeds come from their own stream, so asking for them leaves every kernel's seed as it was. */
const BIAS_STREAM = 0x5bd1e995;

/** A spec item's type and params (null params, as `- flatten:` gives, read as none). */
function typeOf(item: LayerSpecItem, where: string): { typeName: string; params: Record<string, unknown> } {
  const keys = Object.keys(item);
  if (keys.length !== 1) throw new Error(`${where} must have exactly one key (the layer type), has ${keys.length}`);
  const typeName = keys[0];
  if (typeName !== RESIDUAL && !Object.hasOwn(LAYER_TYPES, typeName)) {
    throw new Error(`${where}: unknown layer type '${typeName}'; known: ${[...Object.keys(LAYER_TYPES), RESIDUAL].join(', ')}`);
  }
  return { typeName, params: item[typeName] ?? {} };
}

/** The layers of a spec in build order, residual blocks' inner layers in place of the block, with their names. */
function leafLayers(layers: LayerSpecItem[]): Array<{ typeName: string; params: Record<string, unknown>; name: string; where: string }> {
  const counts: Record<string, number> = {};
  const out: Array<{ typeName: string; params: Record<string, unknown>; name: string; where: string }> = [];
  const walk = (items: LayerSpecItem[], prefix: string) =>
    items.forEach((item, index) => {
      const where = `${prefix}[${index}]`;
      const { typeName, params } = typeOf(item, where);
      if (typeName === RESIDUAL) return walk((params as unknown as ResidualParams).layers ?? [], `${where}.residual.layers`);
      counts[typeName] = (counts[typeName] ?? 0) + 1;
      out.push({ typeName, params, name: `${snake(typeName)}_${counts[typeName]}`, where });
    });
  walk(layers, 'layers');
  return out;
}

/** Names of the layers whose bias is drawn from U(±1/√fan_in) (biasInitializer: torchUniform). */
export function fanInBiasLayers(layers: LayerSpecItem[]): string[] {
  return leafLayers(layers).flatMap((l) => (l.params.biasInitializer === 'torchUniform' ? [l.name] : []));
}

/**
 * The topology with the fan-in bounds of each torchUniform bias filled in, from the kernel shapes of a model built
 * from it: [kh, kw, in, out] (conv; the pointwise [1, 1, in, out] for separable) or [in, out] (dense).
 */
export function withFanInBiases(topology: ModelTopology, layers: string[], kernelShape: (name: string) => number[]): ModelTopology {
  const out = structuredClone(topology);
  for (const name of layers) {
    const shape = kernelShape(name);
    const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const bound = 1 / Math.sqrt(fanIn);
    const layer = out.config.layers.find((l) => l.config.name === name)!;
    const initializer = layer.config.bias_initializer as { config: Record<string, number> };
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
 * Turns spec layers into Keras layer configs: stable names (`conv2d_1`, `conv2d_2`, `dense_1` …, so model.json
 * bytes do not depend on how many models the process built before) and a seed on every initialiser, drawn in
 * layer order.
 */
class LayerConfigs {
  private seedIndex = 0;
  /** Leaf layers in build order, each named. */
  private leaves: ReturnType<typeof leafLayers>;
  private next = 0;

  constructor(
    layers: LayerSpecItem[],
    private seed: number,
  ) {
    this.leaves = leafLayers(layers);
  }

  /** A seeded kernel initialiser: `kernelInitializer` by spec name, else `className` (the layer's default). */
  kernel(kernelInitializer: unknown, className = 'GlorotUniform'): Record<string, unknown> {
    const kernel = KERNEL_INITIALIZERS[String(kernelInitializer ?? '')];
    return kernel
      ? { class_name: kernel.className, config: { ...kernel.config, seed: derivedSeed(this.seed, this.seedIndex++) } }
      : { class_name: className, config: { seed: derivedSeed(this.seed, this.seedIndex++) } };
  }

  /** The config of the next leaf layer of the spec; `batchInputShape` for the first layer of a Sequential model. */
  layer(batchInputShape?: number[]): { class_name: string; config: Record<string, unknown>; typeName: string; params: Record<string, unknown> } {
    const index = this.next++;
    const { typeName, params, name } = this.leaves[index];
    const type = LAYER_TYPES[typeName];
    const config: Record<string, unknown> = { name, trainable: true };
    if (batchInputShape) config.batch_input_shape = batchInputShape;
    for (const [key, value] of Object.entries(params)) {
      if (key === 'kernelInitializer' || key === 'biasInitializer') continue;
      if (key === 'l2') {
        config.kernel_regularizer = { class_name: 'L1L2', config: { l1: 0, l2: value } };
      } else {
        config[snake(key)] = key === 'activation' ? snake(String(value)) : value;
      }
    }
    for (const [key, className] of Object.entries(type.seededInitializers ?? {})) config[key] = this.kernel(params.kernelInitializer, className);
    if (typeof params.biasInitializer === 'number') {
      config.bias_initializer = { class_name: 'Constant', config: { value: params.biasInitializer } };
    } else if (params.biasInitializer === 'torchUniform') {
      // The bounds need the layer's fan-in, known once the model is built: see withFanInBiases.
      config.bias_initializer = { class_name: 'RandomUniform', config: { minval: 0, maxval: 0, seed: derivedSeed(this.seed ^ BIAS_STREAM, index) } };
    }
    if (type.seededLayer) config.seed = derivedSeed(this.seed, this.seedIndex++);
    return { class_name: type.className, config, typeName, params };
  }
}

const TOPOLOGY_FOOTER = { keras_version: 'tfjs-layers', backend: 'tensor_flow.js' } as const;

/**
 * The topology for a spec. A plain list of layers is a Sequential model, as it always was (same model.json); one
 * with a residual block is a functional model: an input layer, each layer fed by the one before, and per block a
 * shortcut (the block's input, or a 1×1 convolution of it and a batch norm when the block has one) and an Add
 * of the two, named residual_<n>_shortcut, residual_<n>_shortcut_bn, residual_<n>_add and residual_<n>_activation.
 */
export function specToTopology(layers: LayerSpecItem[], inputShape: number[], seed: number): ModelTopology {
  const configs = new LayerConfigs(layers, seed);
  const blocks = layers.some((item, index) => typeOf(item, `layers[${index}]`).typeName === RESIDUAL);
  if (!blocks) {
    const out = layers.map((_, index) => {
      const { class_name, config } = configs.layer(index === 0 ? [null as unknown as number, ...inputShape] : undefined);
      return { class_name, config };
    });
    return { class_name: 'Sequential', config: { name: 'model', layers: out }, ...TOPOLOGY_FOOTER };
  }

  const out: TopologyLayer[] = [];
  const add = (layer: { class_name: string; config: Record<string, unknown> }, from: string[]): string => {
    const name = String(layer.config.name);
    out.push({ name, class_name: layer.class_name, config: layer.config, inbound_nodes: from.length ? [from.map((n) => [n, 0, 0, {}])] : [] });
    return name;
  };
  let previous = add(
    { class_name: 'InputLayer', config: { batch_input_shape: [null, ...inputShape], dtype: 'float32', sparse: false, name: 'input_1' } },
    [],
  );
  let shape = [...inputShape];
  // Each layer's output shape, which the shortcuts depend on (build-model has checked that every layer fits).
  const step = (layer: { typeName: string; params: Record<string, unknown> }, where: string) => {
    const result = LAYER_TYPES[layer.typeName].outputShape(shape, layer.params);
    if ('problem' in result) throw new Error(`${where} (${layer.typeName}): input [${shape.join(', ')}]: ${result.problem}`);
    shape = result.shape;
  };
  let block = 0;
  layers.forEach((item, index) => {
    const { typeName, params } = typeOf(item, `layers[${index}]`);
    if (typeName !== RESIDUAL) {
      const layer = configs.layer();
      previous = add(layer, [previous]);
      step(layer, `layers[${index}]`);
      return;
    }
    const residual = params as unknown as ResidualParams;
    const prefix = `residual_${++block}`;
    const [input, inputShapeOfBlock] = [previous, shape];
    const after: number[][] = [];
    const inner = residual.layers.map((_, j) => {
      const layer = configs.layer();
      previous = add(layer, [previous]);
      step(layer, `layers[${index}].residual.layers[${j}]`);
      after.push(shape);
      return layer;
    });
    const shortcut = shortcutFor(inputShapeOfBlock, after, residual.projection ?? 'auto');
    if ('problem' in shortcut) throw new Error(`layers[${index}].residual: ${shortcut.problem}`);
    let through = input;
    if (shortcut.kind !== 'identity') {
      const norm = inner.filter((l) => l.typeName === 'batchNormalization').at(-1);
      const kernelOf = inner.filter((l) => 'kernelInitializer' in l.params).at(-1)?.params.kernelInitializer;
      const config: Record<string, unknown> = { name: `${prefix}_shortcut`, trainable: true };
      if (shortcut.kind === 'conv') Object.assign(config, { filters: shortcut.filters, kernel_size: [1, 1], strides: shortcut.strides, padding: 'valid' });
      else config.units = shortcut.units;
      Object.assign(config, { use_bias: !norm, kernel_initializer: configs.kernel(kernelOf) });
      through = add({ class_name: shortcut.kind === 'conv' ? 'Conv2D' : 'Dense', config }, [input]);
      if (norm) {
        const bn: Record<string, unknown> = { name: `${prefix}_shortcut_bn`, trainable: true };
        for (const [key, value] of Object.entries(norm.params)) bn[snake(key)] = value;
        through = add({ class_name: 'BatchNormalization', config: bn }, [through]);
      }
    }
    previous = add({ class_name: 'Add', config: { name: `${prefix}_add`, trainable: true } }, [previous, through]);
    if (residual.activation) {
      previous = add({ class_name: 'Activation', config: { name: `${prefix}_activation`, trainable: true, activation: snake(residual.activation) } }, [previous]);
    }
  });
  return {
    class_name: 'Model',
    config: { name: 'model', layers: out, input_layers: [['input_1', 0, 0]], output_layers: [[previous, 0, 0]] },
    ...TOPOLOGY_FOOTER,
  };
}
