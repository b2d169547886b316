// Whether a model can take a dataset's images and predict its classes, checked before any work starts.
import { PipeError } from '../errors.js';
import type { ImageDataset } from '../data/image-dataset.js';

type LayersModel = import('@tensorflow/tfjs').LayersModel;

export function checkModelFitsData(model: LayersModel, ds: Pick<ImageDataset, 'shape' | 'classes'>, stage: string): void {
  const input = model.inputs[0].shape.slice(1);
  if (input.length !== 3 || input.some((d, i) => d !== ds.shape[i])) {
    throw new PipeError(`${stage}: the model takes images of shape [${input.join(', ')}] but the dataset's are [${ds.shape.join(', ')}]`, {
      hint: `set build-model's inputShape to [${ds.shape.join(', ')}], or resize the images upstream`,
    });
  }
  const output = model.outputs[0].shape;
  const units = output[output.length - 1];
  if (output.length !== 2) {
    throw new PipeError(`${stage}: the model outputs [${output.slice(1).join(', ')}] per image, not one score per class`, {
      hint: `end the layer list with flatten (or globalAveragePooling2d), then dense with units: ${ds.classes.length} and activation: softmax`,
    });
  }
  if (units !== ds.classes.length) {
    throw new PipeError(
      `${stage}: the model predicts ${units} classes but the dataset has ${ds.classes.length} (${ds.classes.join(', ')})`,
      { hint: `make the last layer dense with units: ${ds.classes.length} and activation: softmax` },
    );
  }
}
