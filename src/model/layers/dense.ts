// dense: a fully connected layer on a flat vector.
import { showShape, type LayerType } from './layer-type.js';
import { PARAMS } from './params.js';

export const dense: LayerType = {
  className: 'Dense',
  description: 'Fully connected layer.',
  properties: {
    units: { type: 'integer', minimum: 1, description: 'Number of outputs.' },
    activation: { ...PARAMS.activation, default: 'linear' },
    useBias: { ...PARAMS.useBias, default: true },
    l2: PARAMS.l2,
    kernelInitializer: PARAMS.kernelInitializer,
    biasInitializer: PARAMS.biasInitializer,
  },
  required: ['units'],
  seededInitializers: { kernel_initializer: 'GlorotUniform' },
  outputShape: (input, p) =>
    input.length === 1
      ? { shape: [Number(p.units)] }
      : {
          shape: [...input.slice(0, -1), Number(p.units)],
          problem: `dense needs a flat vector but gets the image ${showShape(input)}`,
          hint: 'put flatten (or globalAveragePooling2d) before it',
        },
};
