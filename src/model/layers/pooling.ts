// What max and average pooling share: the same params and the same window over the image.
import { pair, windowShape, type LayerType } from './layer-type.js';
import { PARAMS } from './params.js';

/** A pooling layer type: `type` is its name in a spec, for messages. */
export function pooling(type: string, className: string, description: string): LayerType {
  return {
    className,
    description,
    properties: {
      poolSize: { ...PARAMS.poolSize, default: 2 },
      strides: { ...PARAMS.strides, description: 'Step of the window; defaults to poolSize.' },
      padding: { ...PARAMS.padding, default: 'valid' },
    },
    outputShape: (input, p) => {
      const size = pair(p.poolSize, 2);
      return windowShape(type, input, {
        param: 'poolSize',
        size,
        strides: p.strides === undefined ? size : pair(p.strides, 1),
        dilation: [1, 1],
        padding: p.padding,
        channels: input[input.length - 1],
      });
    },
  };
}
