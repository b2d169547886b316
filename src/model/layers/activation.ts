// activation: an activation function as a layer of its own.
import { sameShape, type LayerType } from './layer-type.js';
import { PARAMS } from './params.js';

export const activation: LayerType = {
  className: 'Activation',
  description: 'Applies an activation function on its own.',
  properties: { activation: PARAMS.activation },
  required: ['activation'],
  outputShape: sameShape,
};
