// The build-model stage's summary.json (src/formats/model-summary.ts) as rows of a layer table.
import type { ModelSummary, Shape } from '../formats/model-summary.js';

export interface LayerRow {
  name: string;
  className: string;
  outputShape: string;
  params?: number;
}

export interface ModelSummaryView {
  layers: LayerRow[];
  totalParams?: number;
  trainableParams?: number;
}

/** "[batch, 46, 46, 32]": Keras writes null for the batch dimension. */
function shapeText(shape: Shape): string {
  return `[${shape.map((d) => (d === null ? 'batch' : String(d))).join(', ')}]`;
}

export function modelSummaryView(summary: ModelSummary): ModelSummaryView {
  return {
    layers: summary.layers.map((l) => ({ name: l.name, className: l.className, outputShape: shapeText(l.outputShape), params: l.params })),
    totalParams: summary.totalParams,
    trainableParams: summary.trainableParams,
  };
}
