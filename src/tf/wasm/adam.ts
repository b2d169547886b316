// Adam on wasm as one SIMD pass per weight instead of a dozen kernels: the serial step of data-parallel
// training (the replica threads wait for it) drops from 10–20 ms to about 2 ms for the paper CNN. Same state (the
// optimizer's own moment variables, so checkpoints are unchanged), same arithmetic in the same order, so
// the same floats as tfjs's AdamOptimizer; other backends and non-float32 weights take the stock path.
import type { KernelFunc, Tf } from '../types.js';
import { simdKernels, type AdamConstants } from './simd.js';

type Tensor = ReturnType<Tf['tensor']>;
type Variable = Tensor & { assign(t: Tensor): void; name: string };

export const ADAM_UPDATE_KERNEL = 'PipeAdamUpdate';

interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: Variable;
  accBeta2: Variable;
  accumulatedFirstMoment: Array<{ originalName: string; variable: Variable } | undefined>;
  accumulatedSecondMoment: Array<{ originalName: string; variable: Variable } | undefined>;
  incrementIterations(): void;
}

const adamUpdate = ((args: Parameters<KernelFunc>[0]) => {
  const { w, m, v, g } = args.inputs;
  const out = { w: args.backend.makeOutput(w.shape, 'float32'), m: args.backend.makeOutput(w.shape, 'float32'), v: args.backend.makeOutput(w.shape, 'float32') };
  simdKernels(args.backend)!.adam({ w, m, v, g }, out, args.attrs as unknown as AdamConstants);
  return [out.w, out.m, out.v];
}) as unknown as KernelFunc;

const PATCHED = Symbol.for('pipe.fusedAdam');

export function installFusedAdam(tf: Tf): void {
  if (!tf.getKernel(ADAM_UPDATE_KERNEL, 'wasm')) tf.registerKernel({ kernelName: ADAM_UPDATE_KERNEL, backendName: 'wasm', kernelFunc: adamUpdate as never });
  const proto = (tf as unknown as { AdamOptimizer: { prototype: Record<PropertyKey, unknown> } }).AdamOptimizer.prototype;
  if (proto[PATCHED]) return;
  proto[PATCHED] = true;
  const original = proto.applyGradients as (this: AdamInternals, grads: unknown) => void;
  proto.applyGradients = function (this: AdamInternals, variableGradients: Record<string, Tensor> | Array<{ name: string; tensor: Tensor }>): void {
    const list = Array.isArray(variableGradients)
      ? variableGradients.map((v) => [v.name, v.tensor] as const)
      : Object.entries(variableGradients).map(([name, t]) => [name, t] as const);
    const variables = tf.engine().registeredVariables as unknown as Record<string, Variable>;
    const fits =
      tf.getBackend() === 'wasm' && simdKernels(tf.backend() as never) !== null &&
      list.every(([name, g]) => g == null || (g.dtype === 'float32' && variables[name]?.dtype === 'float32'));
    if (!fits) return original.call(this, variableGradients);
    const f = Math.fround;
    tf.tidy(() => {
      const [acc1, acc2] = [this.accBeta1.dataSync()[0], this.accBeta2.dataSync()[0]];
      const constants: AdamConstants = {
        b1: f(this.beta1),
        nb1: f(1 - this.beta1),
        b2: f(this.beta2),
        nb2: f(1 - this.beta2),
        c1: f(1 - acc1),
        c2: f(1 - acc2),
        nlr: f(-this.learningRate),
        eps: f(this.epsilon),
      };
      list.forEach(([name, gradient], i) => {
        const value = variables[name];
        // As the stock optimizer: moments are created on first use, named after the variable.
        this.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) as Variable };
        this.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) as Variable };
        if (gradient == null) return;
        const m = this.accumulatedFirstMoment[i]!.variable;
        const v = this.accumulatedSecondMoment[i]!.variable;
        const [w2, m2, v2] = tf.engine().runKernel(ADAM_UPDATE_KERNEL, { w: value, m, v, g: gradient } as never, constants as never) as unknown as Tensor[];
        m.assign(m2);
        v.assign(v2);
        value.assign(w2);
      });
      this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
      this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
    });
    this.incrementIterations();
  };
}
