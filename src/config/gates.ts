// CI gates: conditions on a run's metrics that fail the run, written as `<metric> <op> <number>`, e.g.
// "test.accuracy < 0.6" (fail when test accuracy is below 0.6), or against a baseline run's value of the same
// metric, `<metric> <op> baseline [+|- <number>]`, e.g. "test.accuracy < baseline - 0.01". They come from
// `pipe run --fail-if` and from a pipeline's `gates: { failIf: [...] }`; metric names are listed in
// src/report/run-metrics.ts, and gateCatalogue below says which of them a pipeline's stages report, so a
// misspelt metric is refused before anything runs.
import { LEAKAGE_KIND } from '../formats/leakage.js';
import { HEADLINE_METRICS, METRICS_KIND } from '../formats/metrics.js';
import type { Stage } from '../stage.js';
import { closest } from './suggest.js';

export type GateOperator = '<' | '<=' | '>' | '>=' | '==' | '!=';

export interface Gate {
  /** As written, e.g. "test.accuracy < 0.6". */
  text: string;
  metric: string;
  op: GateOperator;
  /** The number compared with; with `baseline`, the offset added to the baseline run's value. */
  threshold: number;
  /** The threshold is relative to the baseline run's value of the same metric (`pipe run --baseline`). */
  baseline?: boolean;
  /** Where it was given: "--fail-if" or "<pipeline file> gates.failIf[0]". */
  from: string;
}

/** Exit code of a run whose stages all succeeded but a gate failed (1 is a failed stage, 2 bad input). */
export const GATE_FAILED_EXIT_CODE = 3;

const NUMBER = '[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:e[-+]?\\d+)?';
const GATE = new RegExp(
  `^\\s*([A-Za-z_][\\w.-]*)\\s*(<=|>=|==|!=|<|>)\\s*(?:(baseline)(?:\\s*([-+])\\s*(${NUMBER})(%?))?|(${NUMBER})(%?))\\s*$`,
  'i',
);

export const GATE_SYNTAX_HINT =
  "write '<metric> <op> <number>' or '<metric> <op> baseline - <number>', e.g. 'test.accuracy < 0.6', 'test.macroF1 <= 50%' " +
  "or 'test.accuracy < baseline - 0.01' (op: < <= > >= == !=)";

/** The gate, or a message saying what is wrong with the text. */
export function parseGate(text: string, from: string): Gate | string {
  const m = GATE.exec(text);
  if (!m) return `'${text}' is not a gate condition`;
  const [, metric, op, baseline, sign, offset, offsetPercent, number, percent] = m;
  if (baseline) {
    const threshold = offset === undefined ? 0 : (sign === '-' ? -1 : 1) * (Number(offset) / (offsetPercent ? 100 : 1));
    return { text: text.trim(), metric, op: op as GateOperator, threshold, baseline: true, from };
  }
  const threshold = Number(number) / (percent ? 100 : 1);
  return { text: text.trim(), metric, op: op as GateOperator, threshold, from };
}

/** The number a gate compares with: its threshold, or the baseline's value moved by it. */
export function gateThreshold(gate: Gate, baselineValue?: number): number {
  return gate.baseline ? (baselineValue ?? NaN) + gate.threshold : gate.threshold;
}

/** True when the condition holds, i.e. the gate fails the run. */
export function gateTrips(gate: Gate, value: number, baselineValue?: number): boolean {
  const threshold = gateThreshold(gate, baselineValue);
  switch (gate.op) {
    case '<':
      return value < threshold;
    case '<=':
      return value <= threshold;
    case '>':
      return value > threshold;
    case '>=':
      return value >= threshold;
    case '==':
      return value === threshold;
    case '!=':
      return value !== threshold;
  }
}

/**
 * The gate name of a leakage.json's verdict. Output kinds give gate names: a metrics.json (METRICS_KIND) its
 * splits' HEADLINE_METRICS (`test.accuracy`, `evaluate.test.macroF1`), a leakage.json (LEAKAGE_KIND) this one.
 */
export const LEAKAGE_GATE = 'leakage.leaky';

/**
 * The gate names a pipeline's stages will report, from what each stage declares (Stage.gateMetrics) and the
 * kinds of its outputs. A stage that declares nothing (a stage of your own) leaves its own names open, and
 * `<split>.<metric>` names too when it writes metrics: those gates are only checked after the run.
 */
export interface GateCatalogue {
  names: Set<string>;
  /** The pipeline's stage ids. */
  stages: Set<string>;
  /** Stages whose `<stage>.…` names are not known before the run. */
  openStages: Set<string>;
  /** A stage that writes metrics declares no splits, so `<split>.<metric>` names are not known before the run. */
  openSplits: boolean;
}

export function gateCatalogue(stages: Iterable<{ id: string; stage: Stage; params: Record<string, unknown> }>): GateCatalogue {
  const catalogue: GateCatalogue = { names: new Set(), stages: new Set(), openStages: new Set(), openSplits: false };
  for (const { id, stage, params } of stages) {
    catalogue.stages.add(id);
    const kinds = Object.values(stage.outputs).map((o) => o.kind);
    if (kinds.includes(LEAKAGE_KIND)) catalogue.names.add(LEAKAGE_GATE);
    const declared = stage.gateMetrics?.(params);
    if (!declared) {
      catalogue.openStages.add(id);
      if (kinds.includes(METRICS_KIND)) catalogue.openSplits = true;
      continue;
    }
    for (const split of declared.splits ?? []) {
      for (const metric of HEADLINE_METRICS) {
        catalogue.names.add(`${split}.${metric}`);
        catalogue.names.add(`${id}.${split}.${metric}`);
      }
    }
    for (const field of declared.summary ?? []) catalogue.names.add(`${id}.${field}`);
  }
  return catalogue;
}

/** Why no stage of the pipeline can report the gate's metric, with a did-you-mean; undefined when one can. */
export function unknownGateMetric(metric: string, catalogue: GateCatalogue): { message: string; hint: string } | undefined {
  if (catalogue.names.has(metric)) return undefined;
  const parts = metric.split('.');
  if (catalogue.openStages.has(parts[0])) return undefined;
  if (catalogue.openSplits && parts.length === 2 && !catalogue.stages.has(parts[0])) return undefined;
  const guess = closest(metric, catalogue.names);
  // The short names: `<split>.<metric>` and `<stage>.<field>` (each split's metrics also go by `<stage>.<split>.<metric>`).
  const names = [...catalogue.names].filter((n) => n.split('.').length === 2).sort();
  return {
    message: `no stage of this pipeline reports a metric '${metric}'`,
    hint: guess ? `did you mean '${guess}'?` : names.length ? `it reports: ${names.join(', ')}` : 'no stage of this pipeline reports metrics',
  };
}
