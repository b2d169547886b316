// The report stage: one self-contained HTML page, a Markdown summary for CI and the charts as SVG and PNG, from
// whichever of its inputs the pipeline connects (every input is optional; a missing one leaves its section out).
// Light at top level: Vega, sharp and Arrow load inside run().
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineStage } from '../src/stage.js';
import { DEDUPLICATION_KIND } from '../src/formats/deduplication.js';
import { HISTORY_KIND } from '../src/formats/history.js';
import { LEAKAGE_KIND } from '../src/formats/leakage.js';
import { METRICS_KIND } from '../src/formats/metrics.js';
import { MODEL_SUMMARY_KIND } from '../src/formats/model-summary.js';
import { PREDICTIONS_KIND } from '../src/formats/predictions.js';

export interface ReportParams {
  title: string;
  label: string;
  referenceLabel: string;
  paperFigures: boolean;
}

export default defineStage<ReportParams>({
  name: 'report',
  version: '3',
  description:
    'Writes report.html (self-contained: inline CSS and SVG charts, works offline), summary.md for a CI job summary, ' +
    'and charts as SVG and PNG: run summary, class counts before/after resampling, leakage verdict, model table, ' +
    'accuracy and loss curves, confusion matrix, per-class metrics and precision-recall curves, the most confident ' +
    'mistakes with their images, and a comparison with reference metrics.',
  params: {
    type: 'object',
    additionalProperties: false,
    properties: {
      title: {
        description: 'Heading of the report; empty means "<pipeline name> report".',
        type: 'string',
        default: '',
      },
      label: {
        description: "What this run's metrics are called beside the reference's, e.g. \"honest protocol\".",
        type: 'string',
        default: 'this run',
      },
      referenceLabel: {
        description: 'What the reference metrics are called, e.g. "paper protocol (resampled before split)".',
        type: 'string',
        default: 'reference',
      },
      paperFigures: {
        description: "Captions say which figure of the FER2013 paper each chart corresponds to (for pipelines that reproduce it).",
        type: 'boolean',
        default: false,
      },
    },
  },
  inputs: {
    resampled: { description: 'A dataset whose pipe.resample metadata holds class counts before and after resampling.', optional: true, accepts: ['dataset'] },
    leakage: { description: 'leakage.json of a leakage-check stage.', optional: true, accepts: [LEAKAGE_KIND] },
    deduplication: { description: 'deduplication.json of a deduplicate stage (what it removed, with thumbnails).', optional: true, accepts: [DEDUPLICATION_KIND] },
    summary: { description: 'summary.json of a build-model stage (layers and parameter counts).', optional: true, accepts: [MODEL_SUMMARY_KIND] },
    history: { description: 'history.json of a train stage (loss and accuracy per epoch).', optional: true, accepts: [HISTORY_KIND] },
    metrics: { description: 'metrics.json of an evaluate stage.', optional: true, accepts: [METRICS_KIND] },
    reference: { description: 'Another metrics.json to show beside `metrics` (e.g. the leaky protocol).', optional: true, accepts: [METRICS_KIND] },
    predictions: { description: 'predictions.json of an evaluate stage: precision-recall curves per class and the most confident mistakes.', optional: true, accepts: [PREDICTIONS_KIND] },
    images: { description: 'The dataset the evaluate stage scored, for the images of its mistakes.', optional: true, accepts: ['dataset'] },
  },
  // The pipeline's name and backend are shown; the stages it describes are upstream (their keys are in its key).
  runtime: ['pipeline'],
  outputs: {
    html: { file: 'report.html', kind: 'report', description: 'The report, one self-contained HTML file.' },
    markdown: { file: 'summary.md', kind: 'text', description: 'Headline metrics, leakage verdict and class counts in Markdown.' },
    charts: { file: 'charts/', kind: 'charts', description: 'accuracy, loss, learning-rate, confusion and precision-recall (pr) charts as .svg and .png (those with data).' },
  },
  gateMetrics: () => ({ summary: ['notes', 'accuracy'] }),
  async run(ctx) {
    const { loadInputs } = await import('../src/report/load-inputs.js');
    const charts = await import('../src/report/charts.js');
    const { headlineSplit } = await import('../src/report/metrics.js');
    const { renderHtml } = await import('../src/report/html.js');
    const { renderMarkdown } = await import('../src/report/markdown.js');
    const { leakageVerdict } = await import('../src/report/leakage.js');
    type ReportData = import('../src/report/report-data.js').ReportData;

    const data: ReportData = {
      title: ctx.params.title || `${ctx.pipeline.name} report`,
      label: ctx.params.label,
      referenceLabel: ctx.params.referenceLabel,
      pipeline: ctx.pipeline,
      paperFigures: ctx.params.paperFigures,
      notes: [],
    };
    const path = (name: string) => ctx.inputs[name]?.path;
    ctx.progress.update('reading inputs');
    const sections = await loadInputs(data, {
      resampled: path('resampled'),
      leakage: path('leakage'),
      deduplication: path('deduplication'),
      summary: path('summary'),
      history: path('history'),
      metrics: path('metrics'),
      reference: path('reference'),
      predictions: path('predictions'),
      images: path('images'),
    });
    for (const note of data.notes) ctx.log.info(note);

    const lead = data.metrics && headlineSplit(data.metrics);
    const specs = {
      accuracy: data.history && charts.accuracyChartSpec(data.history),
      loss: data.history && charts.lossChartSpec(data.history),
      lr: data.history && charts.learningRateChartSpec(data.history),
      confusion: lead && charts.confusionChartSpec(lead),
      pr: data.predictions && charts.precisionRecallChartSpec(data.predictions.curves, data.predictions.split),
    };
    const chartsDir = ctx.output('charts');
    await mkdir(chartsDir, { recursive: true });
    const svgs: Record<string, string> = {};
    for (const [name, spec] of Object.entries(specs)) {
      if (!spec || ctx.signal.aborted) continue;
      ctx.progress.update(`drawing ${name} chart`);
      const svg = await charts.renderSvg(spec);
      svgs[name] = svg;
      await writeFile(join(chartsDir, `${name}.svg`), svg);
      await writeFile(join(chartsDir, `${name}.png`), await charts.svgToPng(svg));
    }
    ctx.progress.update('writing report.html and summary.md');
    await writeFile(ctx.output('html'), renderHtml(data, svgs));
    await writeFile(ctx.output('markdown'), renderMarkdown(data));
    return {
      sections,
      charts: Object.keys(svgs),
      notes: data.notes.length,
      ...(lead ? { split: lead.split, accuracy: lead.accuracy } : {}),
      ...(data.leakage || data.protocol?.length ? { leaky: leakageVerdict(data.leakage, data.protocol).leaky } : {}),
    };
  },
});
