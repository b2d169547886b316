// The build-model stage's summary.json as rows of a layer table.
import { field, isObject, numberField, stringField } from './json-fields.js';

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

function shapeText(value: unknown): string {
  // Keras writes null for the batch dimension.
  if (Array.isArray(value)) {
    return Array.isArray(value[0]) ? value.map(shapeText).join(', ') : `[${value.map((d) => (d === null ? 'batch' : String(d))).join(', ')}]`;
  }
  return value === undefined || value === null ? '' : String(value);
}

export function parseModelSummary(json: unknown): ModelSummaryView | undefined {
  if (!isObject(json)) return undefined;
  const layers = field(json, 'layers');
  if (!Array.isArray(layers)) return undefined;
  const rows = layers.filter(isObject).map((l) => ({
    name: stringField(l, 'name') ?? '',
    className: stringField(l, 'className', 'class_name', 'type') ?? '',
    outputShape: shapeText(field(l, 'outputShape', 'output_shape', 'shape')),
    params: numberField(l, 'params', 'paramCount', 'countParams'),
  }));
  const summed = rows.every((r) => r.params !== undefined) ? rows.reduce((a, r) => a + (r.params ?? 0), 0) : undefined;
  return {
    layers: rows,
    totalParams: numberField(json, 'totalParams', 'total_params', 'params') ?? summed,
    trainableParams: numberField(json, 'trainableParams', 'trainable_params'),
  };
}
