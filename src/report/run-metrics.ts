// The numbers a finished run is judged by, read from its record: the headline split's accuracy, balanced
// accuracy, macro F1 and loss (from each output named metrics.json), the leakage verdict (from leakage.json),
// and every number a stage returned as its summary. The run summary, `pipe runs`, `pipe compare` and CI gates
// all read them here, under one set of names:
//   <split>.<metric>          test.accuracy, test.macroF1 (the last stage in pipeline order with a metrics.json)
//   <stage>.<split>.<metric>  evaluate.test.accuracy
//   <stage>.<field>           train.bestValAccuracy (numbers in a stage's summary)
//   leakage.leaky             1 when images are shared between splits, else 0
import { basename, join } from 'node:path';
import { LEAKAGE_GATE } from '../config/gates.js';
import { readOrUndefined } from '../formats/json-file.js';
import { LEAKAGE_FILE, readLeakage } from '../formats/leakage.js';
import { HEADLINE_METRICS, METRICS_FILE, readMetrics, type HeadlineMetric } from '../formats/metrics.js';
import type { RunRecord } from '../runs/record.js';
import type { ComparedRun } from './compare.js';
import { leakageVerdict, leakageView } from './leakage.js';
import { headlineSplit, metricsView, type SplitMetrics } from './metrics.js';

export interface RunMetrics {
  /** The headline split of the last metrics.json in pipeline order. */
  headline?: { stage: string; split: string } & Partial<Record<HeadlineMetric, number>>;
  leakage?: { leaky: boolean; headline: string };
  /** Every number by its gate name (see above). */
  values: Record<string, number>;
}

function outputNamed(outputs: Record<string, string>, file: string): string | undefined {
  return Object.values(outputs).find((p) => basename(p) === file);
}

export async function readRunMetrics(storeRoot: string, record: Pick<RunRecord, 'stages'>): Promise<RunMetrics> {
  const result: RunMetrics = { values: {} };
  const values = result.values;
  for (const [id, stage] of Object.entries(record.stages)) {
    if (stage.status !== 'ran' && stage.status !== 'cached') continue;
    for (const [field, value] of Object.entries(stage.summary ?? {})) {
      if (typeof value === 'number' && Number.isFinite(value)) values[`${id}.${field}`] = value;
    }
    const metricsPath = outputNamed(stage.outputs, METRICS_FILE);
    const metrics = metricsPath && (await readOrUndefined(readMetrics, join(storeRoot, metricsPath)));
    if (metrics) {
      const view = metricsView(metrics);
      const put = (split: SplitMetrics) => {
        for (const name of HEADLINE_METRICS) {
          const v = split[name];
          if (v === undefined || !Number.isFinite(v)) continue;
          values[`${split.split}.${name}`] = v;
          values[`${id}.${split.split}.${name}`] = v;
        }
      };
      view.splits.forEach(put);
      const lead = headlineSplit(view);
      if (lead) {
        result.headline = { stage: id, split: lead.split };
        for (const name of HEADLINE_METRICS) if (lead[name] !== undefined) result.headline[name] = lead[name];
      }
    }
    const leakagePath = outputNamed(stage.outputs, LEAKAGE_FILE);
    const leakage = leakagePath && (await readOrUndefined(readLeakage, join(storeRoot, leakagePath)));
    if (leakage) {
      const verdict = leakageVerdict(leakageView(leakage));
      result.leakage = { leaky: verdict.leaky, headline: verdict.headline };
      values[LEAKAGE_GATE] = verdict.leaky ? 1 : 0;
    }
  }
  return result;
}

/** A run as `pipe compare` and the dashboard compare it: the parsed metrics of each stage with a `metrics` output. */
export async function comparedRun(storeRoot: string, record: RunRecord): Promise<ComparedRun> {
  const metrics: ComparedRun['metrics'] = {};
  for (const [stage, s] of Object.entries(record.stages)) {
    const path = s.outputs?.metrics;
    if (!path) continue;
    const file = await readOrUndefined(readMetrics, join(storeRoot, path));
    metrics[stage] = file && metricsView(file);
  }
  return { record, metrics };
}
