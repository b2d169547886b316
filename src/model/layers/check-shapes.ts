// The shape of one image as it flows through a layer spec, computed from the spec alone (no TensorFlow.js), so
// that a network that cannot work (a window larger than its input, dense on an image, an output that is not one
// score per class) is refused by `pipe validate`, naming the layer, before anything is built, cached or trained.
// Each layer type's own outputShape (src/model/layers/<type>.ts) gives the step through it.
import type { ParamProblem } from '../../stage.js';
import { LAYER_TYPES, type LayerParams } from './index.js';
import { showShape as show } from './layer-type.js';
import type { LayerSpecItem } from './spec.js';

/**
 * Problems of a layer list on images of `inputShape`, at paths inside build-model's params
 * (['layers', i, type]); an empty list means every layer fits and the network ends in one score per class.
 */
export function checkLayerShapes(layers: readonly LayerSpecItem[], inputShape: readonly number[]): ParamProblem[] {
  let shape = [...inputShape];
  for (let i = 0; i < layers.length; i++) {
    const type = Object.keys(layers[i])[0];
    const layerType = Object.hasOwn(LAYER_TYPES, type) ? LAYER_TYPES[type] : undefined;
    // A type no module describes: the schema refuses it, and the build names it.
    if (!layerType) return [];
    const result = layerType.outputShape(shape, (layers[i][type] ?? {}) as LayerParams);
    if ('problem' in result) {
      const output = result.shape ? ` → output ${show(result.shape)}` : '';
      return [
        {
          // At the param to change when one is to blame (so a --set of it is named), else at the layer.
          at: ['layers', i, type, ...(result.param ? [result.param] : [])],
          message: `layers[${i}] (${type}): input ${show(shape)}${output}: ${result.problem}`,
          hint: result.hint,
        },
      ];
    }
    shape = result.shape;
  }
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
