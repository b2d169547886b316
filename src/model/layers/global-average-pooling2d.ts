// globalAveragePooling2d: each channel's mean over the whole image.
import { showShape, type LayerType } from './layer-type.js';

export const globalAveragePooling2d: LayerType = {
  className: 'GlobalAveragePooling2D',
  description: 'Mean of each channel over the whole image: [h, w, c] → [c].',
  properties: {},
  paramless: true,
  outputShape: (input) =>
    input.length === 3
      ? { shape: [input[2]] }
      : { problem: `globalAveragePooling2d needs an image [height, width, channels] but gets ${showShape(input)}`, hint: 'remove it, or move it before flatten' },
};
