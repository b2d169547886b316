// separableConv2d: a depthwise then a pointwise (1×1) convolution.
import { convolutionShape } from './conv2d.js';
import type { LayerType } from './layer-type.js';
import { CONVOLUTION_PARAMS, PARAMS } from './params.js';

export const separableConv2d: LayerType = {
  className: 'SeparableConv2D',
  description: 'Depthwise then pointwise (1×1) convolution: fewer weights than conv2d.',
  properties: {
    ...CONVOLUTION_PARAMS,
    depthMultiplier: { type: 'integer', minimum: 1, default: 1, description: 'Depthwise channels per input channel.' },
    kernelInitializer: { ...PARAMS.kernelInitializer, description: `${PARAMS.kernelInitializer.description} Applies to the depthwise and the pointwise kernel.` },
    biasInitializer: PARAMS.biasInitializer,
  },
  required: ['filters', 'kernelSize'],
  seededInitializers: { depthwise_initializer: 'GlorotUniform', pointwise_initializer: 'GlorotUniform' },
  outputShape: (input, p) => convolutionShape('separableConv2d', input, p),
};
