// Everything a report shows, gathered from the report stage's optional inputs and the pipeline's facts (only
// those in the report's cache key: a cached report is shown by later runs and other machines).
import type { DeduplicationReport } from '../formats/deduplication.js';
import type { PipelineInfo } from '../stage.js';
import type { ClassCountsView } from './class-counts.js';
import type { EpochRow, TrainingFacts } from './history.js';
import type { LeakageView } from './leakage.js';
import type { ProtocolFinding } from './protocol.js';
import type { MetricsView } from './metrics.js';
import type { ModelSummaryView } from './model-summary.js';
import type { Mistake, PrCurve } from './predictions.js';

export interface ReportData {
  title: string;
  /** What this run's metrics are called beside the reference's (e.g. "honest: split first"). */
  label: string;
  referenceLabel: string;
  pipeline?: PipelineInfo;
  /** Captions point at the FER2013 paper's figures (its pipelines ask for it; others have no such paper). */
  paperFigures?: boolean;
  classCounts?: ClassCountsView;
  leakage?: LeakageView;
  /** What a deduplicate stage removed (its deduplication.json). */
  deduplication?: DeduplicationReport;
  /** Leaks in how train and evaluate used the splits (src/report/protocol.ts). */
  protocol?: ProtocolFinding[];
  model?: ModelSummaryView;
  history?: EpochRow[];
  training?: TrainingFacts;
  metrics?: MetricsView;
  reference?: MetricsView;
  /** From the evaluate stage's predictions.json: its headline split's PR curves and most confident mistakes. */
  predictions?: PredictionsView;
  /** Why sections are missing, one sentence each. */
  notes: string[];
}

export interface PredictionsView {
  split: string;
  classes: string[];
  /** Rows scored, and how many of them were predicted wrong. */
  rows: number;
  wrong: number;
  curves: PrCurve[];
  /** The most confident mistakes, each with its image (a PNG data: URL) when the evaluated dataset was connected. */
  mistakes: (Mistake & { thumbnail?: string })[];
}
