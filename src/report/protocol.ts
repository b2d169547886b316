// Leaks in the protocol itself, which no image comparison can see: scoring a model on the split it was trained
// on, or on the split its best epoch was chosen by. The report knows both ends: the train stage's history.json
// names its train and validation splits, the evaluate stage's metrics.json the splits it scored (under the name
// asked for and the dataset's own name, e.g. test = PrivateTest).
import type { TrainingFacts } from './history.js';
import { headlineSplit, type MetricsView } from './metrics.js';

export interface ProtocolFinding {
  kind: 'trained-on-scored-split' | 'selected-on-scored-split';
  split: string;
  headline: string;
  detail: string;
}

export function protocolFindings(training: TrainingFacts | undefined, metrics: MetricsView | undefined): ProtocolFinding[] {
  const lead = metrics && headlineSplit(metrics);
  if (!training || !lead) return [];
  const names = new Set([lead.split, lead.datasetSplit].filter((n): n is string => !!n));
  const findings: ProtocolFinding[] = [];
  if (training.trainSplit && names.has(training.trainSplit)) {
    findings.push({
      kind: 'trained-on-scored-split',
      split: lead.split,
      headline: `the model was trained on '${training.trainSplit}', the split it is scored on`,
      detail:
        `train used split '${training.trainSplit}' and evaluate reports '${lead.split}' from the same rows, so its ` +
        `accuracy measures memory, not generalisation. Train on another split (train.trainSplit).`,
    });
  }
  if (training.validationSplit && training.validationSplit !== training.trainSplit && names.has(training.validationSplit)) {
    findings.push({
      kind: 'selected-on-scored-split',
      split: lead.split,
      headline: `the best epoch was chosen on '${training.validationSplit}', the split it is scored on`,
      detail:
        `train validated on '${training.validationSplit}' (best epoch, early stopping, schedule), the split evaluate ` +
        `reports as '${lead.split}', so the figure is chosen with the test answers in view. Validate on a split that is not scored.`,
    });
  }
  return findings;
}
