// The shape of one image as it flows through a layer spec, computed from the spec alone (no TensorFlow.js), so
// that a network that cannot work (a window larger than its input, dense on an image, an output that is not one
// score per class) is refused by `pipe validate`, naming the layer, before anything is built, cached or trained.
import type { ParamProblem } from '../../stage.js';
import type { LayerSpecItem } from './spec.js';

type Params = Record<string, unknown>;

/** Output shape per image, or the reason the layer cannot take its input. */
type Step = { shape: number[] } | { problem: string; hint: string; shape?: number[]; param?: string };

const pair = (value: unknown, fallback: number): [number, number] =>
  Array.isArray(value) ? [Number(value[0]), Number(value[1])] : typeof value === 'number' ? [value, value] : [fallback, fallback];

const show = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** Size along one axis after a window of `size` (dilated) with `stride` and `padding` (as Keras computes it). */
function windowed(input: number, size: number, stride: number, dilation: number, padding: unknown): number {
  const span = (size - 1) * dilation + 1;
  return padding === 'same' ? Math.ceil(input / stride) : Math.floor((input - span) / stride) + 1;
}

/** A convolution or pooling window over an image [h, w, c]. */
function window(type: string, input: number[], p: Params, channels: number): Step {
  if (input.length !== 3) {
    return { problem: `${type} needs an image [height, width, channels] but gets ${show(input)}`, hint: `move it before flatten/globalAveragePooling2d` };
  }
  const pooling = !('filters' in p);
  const size = pair(pooling ? p.poolSize : p.kernelSize, 2);
  const strides = p.strides === undefined ? (pooling ? size : [1, 1]) : pair(p.strides, 1);
  const dilation = pooling ? [1, 1] : pair(p.dilationRate, 1);
  const out = [0, 1].map((axis) => windowed(input[axis], size[axis], strides[axis], dilation[axis], p.padding));
  const shape = [...out, channels];
  if (out.every((d) => d > 0)) return { shape };
  const name = pooling ? 'poolSize' : 'kernelSize';
  const span = [0, 1].map((axis) => (size[axis] - 1) * dilation[axis] + 1);
  return {
    shape,
    param: name,
    problem: `its ${name} ${span[0] === span[1] ? span[0] : `${span[0]}×${span[1]}`} does not fit in the ${input[0]}×${input[1]} input (padding '${String(p.padding ?? 'valid')}')`,
    hint: `use ${name} ≤ ${Math.min(input[0], input[1])}, or padding: same, or fewer downsampling layers before it`,
  };
}

function step(type: string, input: number[], p: Params): Step | undefined {
  switch (type) {
    case 'conv2d':
    case 'separableConv2d':
      return window(type, input, p, Number(p.filters));
    case 'maxPooling2d':
    case 'averagePooling2d':
      return window(type, input, p, input[input.length - 1]);
    case 'globalAveragePooling2d':
      return input.length === 3
        ? { shape: [input[2]] }
        : { problem: `globalAveragePooling2d needs an image [height, width, channels] but gets ${show(input)}`, hint: 'remove it, or move it before flatten' };
    case 'flatten':
      return input.length === 3
        ? { shape: [input[0] * input[1] * input[2]] }
        : { problem: `flatten needs an image [height, width, channels] but gets ${show(input)}`, hint: 'remove it: its input is already flat' };
    case 'dense':
      return input.length === 1
        ? { shape: [Number(p.units)] }
        : {
            shape: [...input.slice(0, -1), Number(p.units)],
            problem: `dense needs a flat vector but gets the image ${show(input)}`,
            hint: 'put flatten (or globalAveragePooling2d) before it',
          };
    case 'batchNormalization':
    case 'dropout':
    case 'activation':
      return { shape: input };
    default:
      return undefined; // a type this module does not know: the build will check it
  }
}

/**
 * Problems of a layer list on images of `inputShape`, at paths inside build-model's params
 * (['layers', i, type]); an empty list means every layer fits and the network ends in one score per class.
 */
export function checkLayerShapes(layers: readonly LayerSpecItem[], inputShape: readonly number[]): ParamProblem[] {
  let shape = [...inputShape];
  for (let i = 0; i < layers.length; i++) {
    const type = Object.keys(layers[i])[0];
    const result = step(type, shape, (layers[i][type] ?? {}) as Params);
    if (!result) return [];
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
