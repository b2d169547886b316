// The shape of one image as it flows through a layer spec, computed from the spec alone (no TensorFlow.js), so
// that a network that cannot work (a window larger than its input, dense on an image, an output that is not one
// score per class) is refused by `pipe validate`, naming the layer, before anything is built, cached or trained.
// Each layer type's own outputShape (src/model/layers/<type>.ts) gives the step through it; a residual block is
// walked into, and its shortcut must be able to meet its layers' output at the add (residual.ts).
import type { ParamProblem } from '../../stage.js';
import { LAYER_TYPES, type LayerParams } from './index.js';
import { showShape as show } from './layer-type.js';
import { RESIDUAL, shortcutFor, type ResidualParams } from './residual.js';
import type { LayerSpecItem } from './spec.js';

/** The shape after `layers` from `input`, each step's shape, or the first problem (paths under `at`, labels under `label`). */
function walk(
  layers: readonly LayerSpecItem[],
  input: readonly number[],
  at: (string | number)[],
  label: string,
): { shape: number[]; after: number[][] } | { problem: ParamProblem } | { unknown: true } {
  let shape = [...input];
  const after: number[][] = [];
  for (let i = 0; i < layers.length; i++) {
    const type = Object.keys(layers[i])[0];
    const where = `${label}[${i}]`;
    if (type === RESIDUAL) {
      const block = (layers[i][type] ?? {}) as unknown as ResidualParams;
      const inner = walk(block.layers ?? [], shape, [...at, i, type, 'layers'], `${where}.residual.layers`);
      if (!('shape' in inner)) return inner;
      const shortcut = shortcutFor(shape, inner.after, block.projection ?? 'auto');
      if ('problem' in shortcut) {
        const j = shortcut.blame;
        const blamed = j === undefined ? undefined : Object.keys(block.layers[j])[0];
        return {
          problem: {
            at: blamed === undefined ? [...at, i, type] : [...at, i, type, 'layers', j!, blamed],
            message: `${blamed === undefined ? `${where}.residual` : `${where}.residual.layers[${j}] (${blamed})`}: ${shortcut.problem}`,
            hint: shortcut.hint,
          },
        };
      }
      shape = inner.shape;
      after.push(shape);
      continue;
    }
    const layerType = Object.hasOwn(LAYER_TYPES, type) ? LAYER_TYPES[type] : undefined;
    // A type no module describes: the schema refuses it, and the build names it.
    if (!layerType) return { unknown: true };
    const result = layerType.outputShape(shape, (layers[i][type] ?? {}) as LayerParams);
    if ('problem' in result) {
      const output = result.shape ? ` → output ${show(result.shape)}` : '';
      return {
        problem: {
          // At the param to change when one is to blame (so a --set of it is named), else at the layer.
          at: [...at, i, type, ...(result.param ? [result.param] : [])],
          message: `${where} (${type}): input ${show(shape)}${output}: ${result.problem}`,
          hint: result.hint,
        },
      };
    }
    shape = result.shape;
    after.push(shape);
  }
  return { shape, after };
}

/**
 * Problems of a layer list on images of `inputShape`, at paths inside build-model's params
 * (['layers', i, type], ['layers', i, 'residual', 'layers', j, type] inside a block); an empty list means every
 * layer fits, every residual block's add gets two tensors of one shape, and the network ends in one score per class.
 */
export function checkLayerShapes(layers: readonly LayerSpecItem[], inputShape: readonly number[]): ParamProblem[] {
  const result = walk(layers, inputShape, ['layers'], 'layers');
  if ('unknown' in result) return [];
  if ('problem' in result) return [result.problem];
  const { shape } = result;
  if (shape.length !== 1) {
    const last = layers.length - 1;
    const type = Object.keys(layers[last])[0];
    return [
      {
        at: ['layers', last, type],
        message: `the network ends with ${show(shape)} per image; a classifier must end with one score per class`,
        hint: 'end with flatten (or globalAveragePooling2d), then dense with units: <number of classes> and activation: softmax',
      },
    ];
  }
  return [];
}
