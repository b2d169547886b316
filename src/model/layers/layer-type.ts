// What a layer type is: how a spec item (`- conv2d: {filters: 32, kernelSize: 3}`) becomes a Keras layer in the
// topology (its class name and seeded weights), the JSON Schema of its params (the editor schema and docs are
// generated from it), and the shape of one image after it, so that `pipe validate` refuses a network that cannot
// work before anything is built. Every type in src/model/layers/index.ts has all three: a type without an output
// shape does not compile.
import type { JsonSchema } from '../../stage.js';

export type LayerParams = Record<string, unknown>;

/** Output shape per image, or the reason the layer cannot take its input (with the shape it would give, if any). */
export type ShapeStep = { shape: number[] } | { problem: string; hint: string; shape?: number[]; param?: string };

export interface LayerType {
  /** Keras / TensorFlow.js class name in the serialization registry. */
  className: string;
  description: string;
  /** Params schema (properties only; wrapped with additionalProperties false). */
  properties: Record<string, JsonSchema>;
  required?: string[];
  /** Kernel-like weights whose initialiser takes a seed (Keras config key → initialiser class). */
  seededInitializers?: Record<string, string>;
  /** Layers that draw random numbers while training (Dropout) get a `seed` too. */
  seededLayer?: boolean;
  /** The layer may be written with no params (`- flatten:` or `- flatten: {}`). */
  paramless?: boolean;
  /** The shape of one image after the layer, from its input shape and its (schema-valid) params. */
  outputShape(input: number[], params: LayerParams): ShapeStep;
}

export const showShape = (shape: readonly number[]) => `[${shape.join(', ')}]`;

/** `value` as [height, width]: an integer for both, a pair, or `fallback` for both when absent. */
export const pair = (value: unknown, fallback: number): [number, number] =>
  Array.isArray(value) ? [Number(value[0]), Number(value[1])] : typeof value === 'number' ? [value, value] : [fallback, fallback];

/** Size along one axis after a window of `size` (dilated) with `stride` and `padding` (as Keras computes it). */
function windowed(input: number, size: number, stride: number, dilation: number, padding: unknown): number {
  const span = (size - 1) * dilation + 1;
  return padding === 'same' ? Math.ceil(input / stride) : Math.floor((input - span) / stride) + 1;
}

export interface Window {
  /** The param that sets the window, named in problems: kernelSize or poolSize. */
  param: 'kernelSize' | 'poolSize';
  size: [number, number];
  strides: [number, number];
  dilation: [number, number];
  padding: unknown;
  /** Channels of the output. */
  channels: number;
}

/** A convolution or pooling window over an image [h, w, c]. */
export function windowShape(type: string, input: number[], w: Window): ShapeStep {
  if (input.length !== 3) {
    return { problem: `${type} needs an image [height, width, channels] but gets ${showShape(input)}`, hint: `move it before flatten/globalAveragePooling2d` };
  }
  const out = [0, 1].map((axis) => windowed(input[axis], w.size[axis], w.strides[axis], w.dilation[axis], w.padding));
  const shape = [...out, w.channels];
  if (out.every((d) => d > 0)) return { shape };
  const span = [0, 1].map((axis) => (w.size[axis] - 1) * w.dilation[axis] + 1);
  return {
    shape,
    param: w.param,
    problem: `its ${w.param} ${span[0] === span[1] ? span[0] : `${span[0]}×${span[1]}`} does not fit in the ${input[0]}×${input[1]} input (padding '${String(w.padding ?? 'valid')}')`,
    hint: `use ${w.param} ≤ ${Math.min(input[0], input[1])}, or padding: same, or fewer downsampling layers before it`,
  };
}

/** The input unchanged: layers that act per value (batch norm, dropout, an activation). */
export const sameShape = (input: number[]): ShapeStep => ({ shape: input });
