// residual: a block whose output is its layers' output added to its input (He et al., "Deep Residual Learning").
//
// Unlike the other types in this folder it is not one Keras layer but a small graph: the inner layers, a
// shortcut from the block's input (the input itself, or a 1×1 convolution when the shapes differ) and an Add
// layer, and optionally an activation after the add. It needs Keras's functional topology (spec.ts builds it);
// the shape check walks into its layers (check-shapes.ts). What both need to agree on is here: the schema, and
// what the shortcut must be for a given input and output shape.
import type { JsonSchema } from '../../stage.js';
import { showShape } from './layer-type.js';
import { ACTIVATIONS } from './params.js';

export const RESIDUAL = 'residual';

export interface ResidualParams {
  layers: Array<Record<string, Record<string, unknown> | null>>;
  /** auto: a 1×1 convolution (dense on vectors) on the shortcut when shapes differ; none: they must not differ. */
  projection?: 'auto' | 'none';
  /** Applied after the add. */
  activation?: string;
}

/** The block's params schema; `item` is the schema of one inner layer (any type but residual: blocks do not nest). */
export function residualSchema(item: JsonSchema): JsonSchema {
  return {
    type: 'object',
    description:
      "Residual block: its layers' output added to its input. When the shapes differ (filters, or a stride in its " +
      'layers) the shortcut is a 1×1 convolution with the matching stride and filters, followed by batch normalisation ' +
      'when the block has any. See docs/layers.md.',
    properties: {
      layers: {
        type: 'array',
        minItems: 1,
        description: 'The layers of the residual branch, first layer first (any layer type but residual).',
        items: item,
      },
      projection: {
        enum: ['auto', 'none'],
        default: 'auto',
        description:
          "auto: a 1×1 convolution (dense, on vectors) on the shortcut when the layers change the shape; none: the layers must keep the input's shape.",
      },
      activation: { enum: [...ACTIVATIONS], description: 'Activation applied after the add (none when absent).' },
    },
    required: ['layers'],
    additionalProperties: false,
  };
}

/** What the shortcut from the block's input to its add is. */
export type Shortcut =
  | { kind: 'identity' }
  | { kind: 'conv'; filters: number; strides: [number, number] }
  | { kind: 'dense'; units: number }
  | {
      problem: string;
      hint: string;
      /** Index of the inner layer to blame (the first after which the shape never again equals the input). */
      blame?: number;
    };

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** The smallest stride s with ceil(input / s) = output (a 1×1 window, valid padding), or null when none does. */
function strideFor(input: number, output: number): number | null {
  for (let s = 1; s <= input; s++) if (Math.ceil(input / s) === output) return s;
  return null;
}

/**
 * The shortcut of a block whose input is `input` and whose inner layers give `after[k]` after layer k (the last
 * one is the branch's output).
 */
export function shortcutFor(input: readonly number[], after: readonly number[][], projection: 'auto' | 'none' = 'auto'): Shortcut {
  const output = after[after.length - 1];
  if (sameShape(input, output)) return { kind: 'identity' };
  let blame = 0;
  after.forEach((shape, k) => {
    if (sameShape(shape, input)) blame = k + 1;
  });
  const change = `its layers turn its input ${showShape(input)} into ${showShape(output)}`;
  if (projection === 'none') {
    return {
      blame,
      problem: `${change}, which cannot be added to the input with projection: none`,
      hint: 'use projection: auto (a 1×1 convolution on the shortcut), or keep the filters and strides so the output has the input’s shape',
    };
  }
  if (input.length !== output.length) {
    return {
      blame,
      problem: `${change}: a block must give what it takes, an image for an image or a vector for a vector`,
      hint: 'put flatten (or globalAveragePooling2d) after the block, not inside it',
    };
  }
  if (input.length === 1) return { kind: 'dense', units: output[0] };
  const strides = [strideFor(input[0], output[0]), strideFor(input[1], output[1])];
  if (input.length !== 3 || strides[0] === null || strides[1] === null) {
    return {
      blame,
      problem: `${change}, which no strided 1×1 convolution of the input matches`,
      hint: 'use padding: same in the block (valid padding shrinks each side by kernelSize − 1), so that only strides change the size',
    };
  }
  return { kind: 'conv', filters: output[2], strides: [strides[0], strides[1]] };
}
