// Param schemas that several layer types share, so that `activation` or `kernelSize` means one thing everywhere.
import type { JsonSchema } from '../../stage.js';

export const ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softmax',
  'softplus',
  'softsign',
  'swish',
  'mish',
  'gelu',
] as const;

const pairOrInt = (description: string): JsonSchema => ({
  description,
  oneOf: [
    { type: 'integer', minimum: 1 },
    { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 2, maxItems: 2 },
  ],
});

export const PARAMS = {
  filters: { type: 'integer', minimum: 1, description: 'Number of output channels (feature maps).' },
  kernelSize: pairOrInt('Convolution window: an integer for a square window or [height, width].'),
  strides: pairOrInt('Step of the window: an integer or [height, width].'),
  padding: {
    enum: ['valid', 'same'],
    description: "'valid' (no padding, the output shrinks) or 'same' (zero padding keeps the size at stride 1).",
  },
  activation: { enum: [...ACTIVATIONS], description: 'Activation applied to the output.' },
  useBias: { type: 'boolean', description: 'Whether the layer adds a learned bias.' },
  dilationRate: pairOrInt('Dilation of the convolution window.'),
  l2: {
    type: 'number',
    minimum: 0,
    description: 'L2 weight decay on the kernel (a Keras L1L2 regulariser with l1 = 0), added to the training loss.',
  },
  poolSize: pairOrInt('Pooling window: an integer or [height, width].'),
  kernelInitializer: {
    enum: ['glorotUniform', 'glorotNormal', 'heUniform', 'heNormal', 'lecunUniform', 'lecunNormal', 'torchUniform'],
    description:
      "How the kernel's first values are drawn (Keras names; default glorotUniform, as Keras). torchUniform is " +
      "PyTorch's default, U(±1/√fan_in) (kaiming_uniform with a = √5).",
  },
  biasInitializer: {
    oneOf: [{ enum: ['zeros', 'torchUniform'] }, { type: 'number' }],
    description: "The bias's first values: 'zeros' (default, as Keras), 'torchUniform' (PyTorch's U(±1/√fan_in)) or a constant.",
  },
} satisfies Record<string, JsonSchema>;

/** What conv2d and separableConv2d share, in this order (the schema lists them so). */
export const CONVOLUTION_PARAMS = {
  filters: PARAMS.filters,
  kernelSize: PARAMS.kernelSize,
  strides: { ...PARAMS.strides, default: 1 },
  padding: { ...PARAMS.padding, default: 'valid' },
  activation: { ...PARAMS.activation, default: 'linear' },
  useBias: { ...PARAMS.useBias, default: true },
  dilationRate: { ...PARAMS.dilationRate, default: 1 },
};
