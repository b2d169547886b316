// Reads the report stage's optional inputs into ReportData. A missing input leaves its section out with a note;
// an unreadable one does too (the note says why) so that a report still comes out of a partly failed pipeline.
import { readDeduplication } from '../formats/deduplication.js';
import { readHistory } from '../formats/history.js';
import { readLeakage } from '../formats/leakage.js';
import { readMetrics } from '../formats/metrics.js';
import { readModelSummary } from '../formats/model-summary.js';
import { readPredictions } from '../formats/predictions.js';
import type { ClassCountsView } from './class-counts.js';
import { currentCounts, parseResampleMetadata } from './class-counts.js';
import { historyRows, trainingFacts } from './history.js';
import { leakageView } from './leakage.js';
import { metricsView } from './metrics.js';
import { protocolFindings } from './protocol.js';
import { modelSummaryView } from './model-summary.js';
import { confidentMistakes, headlinePredictions, precisionRecallCurves } from './predictions.js';
import type { PredictionsView, ReportData } from './report-data.js';

export interface ReportInputPaths {
  resampled?: string;
  leakage?: string;
  deduplication?: string;
  summary?: string;
  history?: string;
  metrics?: string;
  reference?: string;
  /** predictions.json of the evaluate stage, and the dataset it evaluated (for the mistakes' images). */
  predictions?: string;
  images?: string;
}

/** How many of the most confident mistakes the report shows, each as an inline image. */
export const MISTAKES_SHOWN = 24;

/** The Arrow schema's metadata only: for a file-format dataset the footer is read, not the rows. */
async function readSchemaMetadata(path: string): Promise<Map<string, string>> {
  const { open } = await import('node:fs/promises');
  const { RecordBatchReader } = await import('apache-arrow');
  const handle = await open(path);
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    const metadata = new Map(reader.schema.metadata);
    await reader.cancel();
    return metadata;
  } finally {
    await handle.close();
  }
}

export async function readClassCounts(path: string): Promise<ClassCountsView> {
  const metadata = await readSchemaMetadata(path);
  const classesText = metadata.get('pipe.classes');
  const classes = classesText ? (JSON.parse(classesText) as string[]) : [];
  const steps = parseResampleMetadata(metadata.get('pipe.resample'), classes);
  if (steps.length) return { steps };
  // Not resampled: count what is there (this reads the rows).
  const { readDataset, classCounts } = await import('../data/image-dataset.js');
  const ds = await readDataset(path);
  return { steps: [], current: currentCounts(classCounts(ds), ds.classes) };
}

/** Why `path` could not be read, without repeating the path the note already names. */
function reason(err: unknown, path: string): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

type Section = 'classCounts' | 'leakage' | 'deduplication' | 'model' | 'history' | 'metrics' | 'reference' | 'predictions';

const MISSING: Record<Section, string> = {
  classCounts: 'Class counts are not shown: no `resampled` dataset was connected to the report.',
  leakage: 'Leakage findings are not shown: no `leakage` input (a leakage-check stage) was connected.',
  deduplication: '',
  model: 'The model table is not shown: no model `summary` input was connected.',
  history: 'Training curves are not shown: no training `history` input was connected.',
  metrics: 'Evaluation metrics are not shown: no `metrics` input was connected.',
  reference: '',
  predictions: '',
};

/** Fill `data` from the given input paths; returns the sections that were filled. */
export async function loadInputs(data: ReportData, paths: ReportInputPaths): Promise<Section[]> {
  const filled: Section[] = [];
  async function load(section: Section, path: string | undefined, what: string, read: (p: string) => Promise<boolean>) {
    if (!path) {
      if (MISSING[section]) data.notes.push(MISSING[section]);
      return;
    }
    try {
      if (await read(path)) filled.push(section);
      else data.notes.push(`The ${what} at ${path} holds nothing this report can show.`);
    } catch (err) {
      data.notes.push(`The ${what} at ${path} could not be read: ${reason(err, path)}`);
    }
  }
  await load('classCounts', paths.resampled, 'resampled dataset', async (p) => {
    data.classCounts = await readClassCounts(p);
    return data.classCounts.steps.length > 0 || (data.classCounts.current?.length ?? 0) > 0;
  });
  await load('leakage', paths.leakage, 'leakage report', async (p) => {
    data.leakage = leakageView(await readLeakage(p));
    return true;
  });
  await load('deduplication', paths.deduplication, 'deduplication report', async (p) => {
    data.deduplication = await readDeduplication(p);
    return true;
  });
  await load('model', paths.summary, 'model summary', async (p) => {
    data.model = modelSummaryView(await readModelSummary(p));
    return data.model.layers.length > 0;
  });
  await load('history', paths.history, 'training history', async (p) => {
    const history = await readHistory(p);
    data.history = historyRows(history);
    data.training = trainingFacts(history);
    return data.history.length > 0;
  });
  await load('metrics', paths.metrics, 'metrics', async (p) => {
    data.metrics = metricsView(await readMetrics(p));
    return data.metrics.splits.length > 0;
  });
  await load('reference', paths.reference, 'reference metrics', async (p) => {
    data.reference = metricsView(await readMetrics(p));
    return data.reference.splits.length > 0;
  });
  await load('predictions', paths.predictions, 'predictions', async (p) => {
    data.predictions = await predictionsView(p, paths.images, data.notes);
    return data.predictions !== undefined;
  });
  // Sections whose input held nothing usable are dropped, not shown empty.
  for (const section of ['classCounts', 'leakage', 'deduplication', 'model', 'history', 'metrics', 'reference', 'predictions'] as const) {
    if (!filled.includes(section)) delete data[section];
  }
  data.protocol = protocolFindings(data.training, data.metrics);
  return filled;
}

/** The headline split's PR curves and most confident mistakes, their images drawn from the evaluated dataset. */
async function predictionsView(path: string, images: string | undefined, notes: string[]): Promise<PredictionsView | undefined> {
  const file = await readPredictions(path);
  const lead = headlinePredictions(file);
  if (!lead || lead.predictions.rows.length === 0) return undefined;
  const split = lead.predictions;
  const mistakes: PredictionsView['mistakes'] = confidentMistakes(split, MISTAKES_SHOWN);
  if (images && mistakes.length) {
    try {
      const { readDataset, rowCount } = await import('../data/image-dataset.js');
      const { thumbnailStrip } = await import('../data/thumbnails.js');
      const ds = await readDataset(images);
      if (mistakes.some((m) => m.row >= rowCount(ds))) throw new Error(`it has ${rowCount(ds)} rows, fewer than predictions.json names`);
      for (const m of mistakes) m.thumbnail = await thumbnailStrip(ds, [m.row]);
    } catch (err) {
      notes.push(`The images of the mistakes are not shown: the dataset at ${images} could not be read: ${reason(err, images)}`);
    }
  } else if (mistakes.length) {
    notes.push('The images of the mistakes are not shown: no `images` input (the evaluated dataset) was connected.');
  }
  return {
    split: lead.split,
    classes: file.classes,
    rows: split.rows.length,
    wrong: split.rows.filter((_, i) => split.truth[i] !== split.predicted[i]).length,
    curves: precisionRecallCurves(split, file.classes),
    mistakes,
  };
}
