// dropout: while training, zeroes a random fraction of its inputs (seeded, so runs repeat).
import { sameShape, type LayerType } from './layer-type.js';

export const dropout: LayerType = {
  className: 'Dropout',
  description: 'While training, zeroes a random fraction of its inputs.',
  properties: {
    rate: { type: 'number', minimum: 0, exclusiveMaximum: 1, description: 'Fraction of inputs dropped, 0 ≤ rate < 1.' },
  },
  required: ['rate'],
  seededLayer: true,
  outputShape: sameShape,
};
