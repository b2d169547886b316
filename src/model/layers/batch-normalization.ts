// batchNormalization: normalises each channel (batch statistics while training, moving averages after).
import { sameShape, type LayerType } from './layer-type.js';

export const batchNormalization: LayerType = {
  className: 'BatchNormalization',
  description: 'Normalises each channel with batch statistics while training, moving averages after.',
  properties: {
    momentum: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1, default: 0.99, description: 'Moving-average momentum.' },
    epsilon: { type: 'number', exclusiveMinimum: 0, default: 0.001, description: 'Added to the variance to avoid dividing by zero.' },
    center: { type: 'boolean', default: true, description: 'Learn an offset (beta).' },
    scale: { type: 'boolean', default: true, description: 'Learn a scale (gamma).' },
  },
  paramless: true,
  outputShape: sameShape,
};
