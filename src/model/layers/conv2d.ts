// conv2d: a 2-D convolution.
import { pair, windowShape, type LayerParams, type LayerType, type ShapeStep } from './layer-type.js';
import { CONVOLUTION_PARAMS, PARAMS } from './params.js';

/** A convolution's window over an image: kernelSize, strides (default 1), dilationRate, `filters` channels out. */
export function convolutionShape(type: string, input: number[], p: LayerParams): ShapeStep {
  return windowShape(type, input, {
    param: 'kernelSize',
    size: pair(p.kernelSize, 2),
    strides: p.strides === undefined ? [1, 1] : pair(p.strides, 1),
    dilation: pair(p.dilationRate, 1),
    padding: p.padding,
    channels: Number(p.filters),
  });
}

export const conv2d: LayerType = {
  className: 'Conv2D',
  description: '2-D convolution.',
  properties: {
    ...CONVOLUTION_PARAMS,
    l2: PARAMS.l2,
    kernelInitializer: PARAMS.kernelInitializer,
    biasInitializer: PARAMS.biasInitializer,
  },
  required: ['filters', 'kernelSize'],
  seededInitializers: { kernel_initializer: 'GlorotUniform' },
  outputShape: (input, p) => convolutionShape('conv2d', input, p),
};
