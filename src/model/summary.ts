// A Keras-like summary of a layers model: one row per layer with its output shape and parameter count (the
// format of build-model's summary.json is src/formats/model-summary.ts).
import type { LayerRow, ModelSummary } from '../formats/model-summary.js';

type LayersModel = import('@tensorflow/tfjs').LayersModel;

function count(weights: Array<{ shape: Array<number | null> }>): number {
  return weights.reduce((sum, w) => sum + w.shape.reduce<number>((a, b) => a * (b ?? 1), 1), 0);
}

/** One row per layer; a functional model's input layer is the summary's inputShape, not a row. */
export function summariseModel(model: LayersModel): ModelSummary {
  const layers: LayerRow[] = model.layers.filter((layer) => layer.getClassName() !== 'InputLayer').map((layer) => ({
    name: layer.name,
    className: layer.getClassName(),
    outputShape: layer.outputShape as Array<number | null>,
    params: layer.countParams(),
    trainableParams: count(layer.trainableWeights),
  }));
  const totalParams = layers.reduce((s, l) => s + l.params, 0);
  const trainableParams = layers.reduce((s, l) => s + l.trainableParams, 0);
  return {
    inputShape: model.inputs[0].shape as Array<number | null>,
    layers,
    totalParams,
    trainableParams,
    nonTrainableParams: totalParams - trainableParams,
  };
}

/** "(None, 46, 46, 32)" as Keras prints it. */
export function formatShape(shape: Array<number | null>): string {
  return `(${shape.map((d) => (d === null ? 'None' : String(d))).join(', ')})`;
}

/** A plain-text table: Layer (type) | Output shape | Params, then totals. */
export function summaryTable(summary: ModelSummary): string {
  const rows = summary.layers.map((l) => [`${l.name} (${l.className})`, formatShape(l.outputShape), l.params.toLocaleString('en-US')]);
  const header = ['Layer (type)', 'Output shape', 'Params'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 2 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('   ').trimEnd();
  const rule = '─'.repeat(widths.reduce((a, b) => a + b, 0) + 6);
  return [
    `Input: ${formatShape(summary.inputShape)}`,
    rule,
    line(header),
    rule,
    ...rows.map(line),
    rule,
    `Total params: ${summary.totalParams.toLocaleString('en-US')}`,
    `Trainable params: ${summary.trainableParams.toLocaleString('en-US')}`,
    `Non-trainable params: ${summary.nonTrainableParams.toLocaleString('en-US')}`,
    '',
  ].join('\n');
}
