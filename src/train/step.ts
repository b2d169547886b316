// One optimisation step on a batch, as the training loop runs it: on one replica in this thread, or on N replicas
// in their own threads that each take a slice of the batch (replicas.ts). Either way the replicas run the same
// pass (gradients.ts) and the optimiser is applied once, here.
import type { LayersModel, Optimizer, Tensor } from '@tensorflow/tfjs';
import type { Tf } from '../tf/types.js';
import { setOneDnnPrecision, type OneDnnPrecision } from '../tf/native/onednn.js';
import { lossAndGradients, reseedDropout, trainableVariables, type TrainStep } from './gradients.js';
import { startReplicas } from './replicas.js';

/**
 * The step for `replicas` replicas. The model stays the source of truth: after each step it holds the updated
 * weights, trainable and not. With several replicas, as in any data-parallel training without synchronised
 * batch norm, batch norm normalises each slice by its own statistics and the moving statistics kept are the
 * slices' averaged by rows; the replica count is part of the result.
 */
export async function createStep(tf: Tf, model: LayersModel, optimizer: Optimizer, replicas: number, precision: OneDnnPrecision = 'fp32'): Promise<TrainStep> {
  return replicas > 1 ? startReplicas(tf, model, optimizer, replicas, precision) : oneReplica(tf, model, optimizer, precision);
}

/** The step in this thread: the gradients go straight to the optimiser, as tensors. */
function oneReplica(tf: Tf, model: LayersModel, optimizer: Optimizer, precision: OneDnnPrecision): TrainStep {
  const variables = trainableVariables(model);
  return {
    replicas: 1,
    dispose: async () => undefined,
    async run(batch, targets, sampleWeights, dropoutSeeds) {
      reseedDropout(model, dropoutSeeds);
      let correctT: Tensor | undefined;
      // The step's kernels run synchronously: the precision holds for them alone, not for other stages' kernels
      // (validation, an evaluate running beside) between steps.
      const restore = precision === 'fp32' ? undefined : setOneDnnPrecision(precision);
      let lossT: Tensor;
      try {
        lossT = tf.tidy(() => {
          const { value, correct, grads } = lossAndGradients(tf, model, variables, batch, targets, sampleWeights);
          correctT = correct;
          optimizer.applyGradients(grads);
          return value;
        });
      } finally {
        restore?.();
      }
      const [loss, correct] = await Promise.all([lossT.data(), correctT!.data()]);
      tf.dispose([lossT, correctT!]);
      return { loss: loss[0], correct: correct[0] };
    },
  };
}
