// The image-shape facts (src/stage.ts: OutputFacts) that `pipe validate` compares: a stage that feeds a model
// images (train, evaluate) refuses a model whose input shape differs from the images its data holds, before
// anything is ingested or trained.
import type { FactProblem, FactSource, ImageShape, OutputFacts } from '../stage.js';

/** "48×48×1" */
export function showImageShape(shape: readonly number[]): string {
  return shape.join('×');
}

/** Where a fact came from, as a message reads it: "ingest: shape [48, 48, 1]". */
function from(source: FactSource | undefined): string {
  return source ? ` (from ${source.stage}: ${source.says})` : '';
}

/**
 * The problem when the model on input `modelInput` takes other images than the dataset on input `dataInput`
 * holds; none when they agree or either shape is unknown.
 */
export function modelDataMismatch(
  inputs: Record<string, OutputFacts | undefined>,
  modelInput: string,
  dataInput: string,
): FactProblem[] {
  const model = inputs[modelInput];
  const data = inputs[dataInput];
  const takes: ImageShape | undefined = model?.inputShape;
  const holds: ImageShape | undefined = data?.imageShape;
  if (!takes || !holds || (takes.length === holds.length && takes.every((n, i) => n === holds[i]))) return [];
  const fixModel = model?.source ? `set ${model.source.stage}'s ${model.source.params.join('/')} to [${holds.join(', ')}]` : `give the model input shape [${holds.join(', ')}]`;
  const fixData = data?.source
    ? `make the images of ${data.source.stage} ${showImageShape(takes)} (its ${data.source.params.join('/')} param${data.source.params.length > 1 ? 's' : ''})`
    : `resize the images to ${showImageShape(takes)}`;
  return [
    {
      input: dataInput,
      message: `the model takes ${showImageShape(takes)} images${from(model?.source)} but input '${dataInput}' holds ${showImageShape(holds)} images${from(data?.source)}`,
      hint: `${fixModel}, or ${fixData}`,
    },
  ];
}
