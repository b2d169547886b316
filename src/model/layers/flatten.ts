// flatten: an image [h, w, c] as one vector.
import { showShape, type LayerType } from './layer-type.js';

export const flatten: LayerType = {
  className: 'Flatten',
  description: 'Reshapes [h, w, c] into one vector of h·w·c values.',
  properties: {},
  paramless: true,
  outputShape: (input) =>
    input.length === 3
      ? { shape: [input[0] * input[1] * input[2]] }
      : { problem: `flatten needs an image [height, width, channels] but gets ${showShape(input)}`, hint: 'remove it: its input is already flat' },
};
