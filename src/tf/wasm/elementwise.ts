// The elementwise passes around every convolution of a training step, as SIMD kernels on wasm: the bias
// add (x + b with b per channel), relu, and relu's gradient in one pass (tfjs builds it from step, a cast
// and a multiply). Shapes and dtypes outside these cases go to the stock kernels and gradient unchanged.
import type { KernelFunc, Tf } from '../types.js';
import { simdKernels } from './simd.js';

type Tensor = ReturnType<Tf['tensor']>;

export const RELU_GRAD_KERNEL = 'PipeReluGrad';

/** Add where one operand is per channel ([C], the other [..., C], C a multiple of 4): a bias add. */
export function fastAdd(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { a, b } = args.inputs;
    const [big, bias] = a.shape.length >= b.shape.length ? [a, b] : [b, a];
    const ch = big.shape[big.shape.length - 1];
    const fits =
      a.dtype === 'float32' && b.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === ch && big.shape.length >= 2 && ch % 4 === 0;
    const simd = fits ? simdKernels(args.backend) : null;
    if (!simd) return stock(args);
    const out = args.backend.makeOutput(big.shape, 'float32');
    simd.scaleShift(big, out, new Float32Array(ch).fill(1), (args.backend.typedArrayFromHeap(bias) as Float32Array).slice());
    return out;
  };
}

export function fastRelu(stock: KernelFunc): KernelFunc {
  return (args) => {
    const { x } = args.inputs;
    const simd = x.dtype === 'float32' ? simdKernels(args.backend) : null;
    if (!simd) return stock(args);
    const out = args.backend.makeOutput(x.shape, 'float32');
    simd.relu(x, out);
    return out;
  };
}

const reluGrad = ((args: Parameters<KernelFunc>[0]) => {
  const { dy, x } = args.inputs;
  const out = args.backend.makeOutput(x.shape, 'float32');
  simdKernels(args.backend)!.reluGrad(dy, x, out);
  return out;
}) as KernelFunc;

/** Registers the relu-gradient kernel and routes Relu's gradient to it on wasm. Idempotent. */
export function registerReluGrad(tf: Tf): void {
  if (!tf.getKernel(RELU_GRAD_KERNEL, 'wasm')) tf.registerKernel({ kernelName: RELU_GRAD_KERNEL, backendName: 'wasm', kernelFunc: reluGrad as never });
  const original = tf.getGradient('Relu');
  if (!original || (original as unknown as { pipe?: boolean }).pipe) return;
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    pipe: true,
    gradFunc: (dy: Tensor, saved: Tensor[], attrs: Record<string, unknown>) => {
      const [x] = saved;
      const fits = tf.getBackend() === 'wasm' && x.dtype === 'float32' && dy.dtype === 'float32' && simdKernels(tf.backend() as never);
      if (!fits) return original.gradFunc(dy, saved, attrs as never);
      return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, x } as never, {}) as Tensor };
    },
  } as never);
}
