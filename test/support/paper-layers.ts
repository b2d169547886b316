// The FER2013 paper's CNN as a build-model layer spec (the same list docs/layers.md shows in YAML).
export const PAPER_LAYERS = [
  { conv2d: { filters: 32, kernelSize: 3, padding: 'valid', activation: 'relu' } },
  { conv2d: { filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' } },
  { batchNormalization: null },
  { maxPooling2d: { poolSize: 2 } },
  { conv2d: { filters: 64, kernelSize: 3, padding: 'valid', activation: 'relu' } },
  { conv2d: { filters: 128, kernelSize: 3, padding: 'same', activation: 'relu' } },
  { batchNormalization: null },
  { maxPooling2d: { poolSize: 2 } },
  { conv2d: { filters: 128, kernelSize: 3, padding: 'valid', activation: 'relu' } },
  { batchNormalization: null },
  { maxPooling2d: { poolSize: 2 } },
  { flatten: null },
  { dense: { units: 200, activation: 'relu' } },
  { dropout: { rate: 0.6 } },
  { dense: { units: 7, activation: 'softmax' } },
];
