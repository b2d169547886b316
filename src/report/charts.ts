// The report's charts as Vega-Lite specs (pure), rendered to SVG by Vega in Node (no browser, no canvas) and to
// PNG by sharp. Palettes are colour-blind safe: Okabe–Ito blue/orange for train/validation (also told apart by
// dash pattern), a single-hue sequential scale for the confusion matrix.
import type { EpochRow } from './history.js';
import type { SplitMetrics } from './metrics.js';
import type { PrCurve } from './predictions.js';
import { loadSharp } from '../packages.js';

export type VegaLiteSpec = Record<string, unknown>;

export const FONT = 'Helvetica, Arial, DejaVu Sans, sans-serif';
export const SERIES_COLOURS = { train: '#0072B2', validation: '#E69F00' };

const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 12,
  view: { stroke: null },
  title: { fontSize: 15, fontWeight: 600, anchor: 'start', color: '#1f2937', offset: 12 },
  axis: {
    labelFontSize: 12,
    titleFontSize: 12,
    titleFontWeight: 600,
    titleColor: '#374151',
    labelColor: '#4b5563',
    gridColor: '#e5e7eb',
    domainColor: '#9ca3af',
    tickColor: '#9ca3af',
  },
  legend: { labelFontSize: 12, titleFontSize: 12, titleFontWeight: 600, symbolStrokeWidth: 2.5 },
};

function curveSpec(
  history: EpochRow[],
  title: string,
  yTitle: string,
  train: (r: EpochRow) => number | undefined,
  validation: (r: EpochRow) => number | undefined,
  asPercent: boolean,
): VegaLiteSpec | undefined {
  const values: { epoch: number; series: string; value: number }[] = [];
  for (const row of history) {
    const t = train(row);
    const v = validation(row);
    if (t !== undefined) values.push({ epoch: row.epoch, series: 'train', value: t });
    if (v !== undefined) values.push({ epoch: row.epoch, series: 'validation', value: v });
  }
  if (values.length === 0) return undefined;
  const series = [...new Set(values.map((d) => d.series))] as (keyof typeof SERIES_COLOURS)[];
  // One series (a learning rate) needs no legend.
  const legend = series.length > 1 ? { orient: 'bottom', direction: 'horizontal', symbolType: 'stroke', symbolSize: 400 } : null;
  const maxEpoch = Math.max(...history.map((r) => r.epoch));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 400,
    height: 240,
    config: CONFIG,
    data: { values },
    mark: { type: 'line', point: history.length <= 40 ? { size: 28, filled: true } : false, strokeWidth: 2.5 },
    encoding: {
      x: {
        field: 'epoch',
        type: 'quantitative',
        title: 'epoch',
        scale: { domain: [Math.min(...history.map((r) => r.epoch)), maxEpoch], nice: false },
        axis: { tickMinStep: 1, format: 'd' },
      },
      y: {
        field: 'value',
        type: 'quantitative',
        title: yTitle,
        scale: asPercent ? { domain: [0, 1] } : { zero: true },
        axis: asPercent ? { format: '.0%' } : {},
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: series, range: series.map((s) => SERIES_COLOURS[s]) },
        legend,
      },
      // The same legend shows the dash pattern, so the series are told apart without colour too.
      strokeDash: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: series, range: series.map((s) => (s === 'train' ? [1, 0] : [6, 3])) },
        legend: series.length > 1 ? undefined : null,
      },
    },
  };
}

/** Train and validation accuracy per epoch (the FER2013 paper's Figure 1). */
export function accuracyChartSpec(history: EpochRow[]): VegaLiteSpec | undefined {
  return curveSpec(history, 'Accuracy per epoch', 'accuracy', (r) => r.accuracy, (r) => r.valAccuracy, true);
}

/** Train and validation loss per epoch (the FER2013 paper's Figure 2). */
export function lossChartSpec(history: EpochRow[]): VegaLiteSpec | undefined {
  return curveSpec(history, 'Loss per epoch', 'cross-entropy loss', (r) => r.loss, (r) => r.valLoss, false);
}

/** The learning rate each epoch trained at (a schedule's shape, and where a plateau cut it). */
export function learningRateChartSpec(history: EpochRow[]): VegaLiteSpec | undefined {
  return curveSpec(history, 'Learning rate per epoch', 'learning rate', (r) => r.lr, () => undefined, false);
}

/** Confusion matrix heat map with counts (the FER2013 paper's Figure 3); colour is the share of the true class. */
export function confusionChartSpec(metrics: SplitMetrics): VegaLiteSpec | undefined {
  const { confusion, classes } = metrics;
  if (!confusion || classes.length === 0) return undefined;
  const values: { actual: string; predicted: string; count: number; share: number }[] = [];
  confusion.forEach((row, i) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, j) => {
      values.push({ actual: classes[i], predicted: classes[j], count, share: total ? count / total : 0 });
    });
  });
  const cell = Math.max(34, Math.min(56, Math.floor(420 / classes.length)));
  const axis = { labelFontSize: 12, labelLimit: 160, ticks: false, domain: false };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Confusion matrix (${metrics.split})`,
    width: cell * classes.length,
    height: cell * classes.length,
    config: { ...CONFIG, axis: { ...CONFIG.axis, grid: false } },
    data: { values },
    encoding: {
      x: { field: 'predicted', type: 'nominal', sort: classes, title: 'predicted class', axis: { ...axis, labelAngle: -40, orient: 'top' } },
      y: { field: 'actual', type: 'nominal', sort: classes, title: 'true class', axis },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: '#e5e7eb', strokeWidth: 1 },
        encoding: {
          color: {
            // A zero stays white, so "never predicted" is not mistaken for "a few".
            condition: { test: 'datum.count === 0', value: '#ffffff' },
            field: 'share',
            type: 'quantitative',
            title: 'share of row',
            scale: { scheme: 'blues', domain: [0, 1] },
            legend: { format: '.0%', orient: 'right', titleLimit: 400, gradientLength: Math.min(200, cell * classes.length) },
          },
        },
      },
      {
        mark: { type: 'text', fontSize: classes.length > 10 ? 10 : 12, fontWeight: 500 },
        encoding: {
          text: { condition: { test: 'datum.count === 0', value: '' }, field: 'count', type: 'quantitative', format: ',d' },
          color: { condition: { test: 'datum.share > 0.55', value: 'white' }, value: '#111827' },
        },
      },
    ],
  };
}

/** Okabe–Ito's colour-blind safe qualitative palette, then Tableau's 20 for datasets with more classes. */
const CLASS_COLOURS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

/** One precision-recall curve per class (one-vs-rest). */
export function precisionRecallChartSpec(curves: PrCurve[], split: string): VegaLiteSpec | undefined {
  if (curves.length === 0) return undefined;
  const label = (c: PrCurve) => c.class;
  const values = curves.flatMap((c) => [
    // Each curve starts at recall 0 with the precision of its first step, as a step curve does.
    { series: label(c), recall: 0, precision: c.points[0]?.precision ?? 1 },
    ...c.points.map((p) => ({ series: label(c), recall: p.recall, precision: p.precision })),
  ]);
  const domain = curves.map(label);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `Precision-recall per class (${split})`,
    width: 400,
    height: 300,
    config: CONFIG,
    data: { values },
    mark: { type: 'line', strokeWidth: 2, interpolate: 'step-before' },
    encoding: {
      x: { field: 'recall', type: 'quantitative', title: 'recall', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
      y: { field: 'precision', type: 'quantitative', title: 'precision', scale: { domain: [0, 1] }, axis: { format: '.0%' } },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: curves.length <= CLASS_COLOURS.length ? { domain, range: CLASS_COLOURS.slice(0, curves.length) } : { domain, scheme: 'tableau20' },
        legend: { orient: 'right', symbolType: 'stroke', labelLimit: 320 },
      },
      order: { field: 'recall', type: 'quantitative' },
    },
  };
}

let idCounter = 0;

/** Vega-Lite → Vega → SVG text, headless (renderer 'none': nothing is drawn to a canvas). */
export async function renderSvg(spec: VegaLiteSpec): Promise<string> {
  const vega = await import('vega');
  const { compile } = await import('vega-lite');
  const view = new vega.View(vega.parse(compile(spec as never).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    // Several charts are inlined in one page: keep their ids (gradients, clip paths) from colliding.
    const prefix = `c${++idCounter}-`;
    return svg.replace(/\bid="([^"]+)"/g, `id="${prefix}$1"`).replace(/url\(#([^)]+)\)/g, `url(#${prefix}$1)`);
  } finally {
    view.finalize();
  }
}

/** PNG of an SVG at twice its size, for places that show images but not SVG. */
export async function svgToPng(svg: string): Promise<Buffer> {
  const sharp = loadSharp();
  return sharp(Buffer.from(svg), { density: 144 }).png().toBuffer();
}
