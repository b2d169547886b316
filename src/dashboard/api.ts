// What the dashboard's JSON API returns. Shared by the server (src/dashboard/*.ts) and the page
// (src/dashboard/web/*.ts); the page imports these as types only, so nothing of the server reaches the browser.
import type { EpochRow } from '../report/history.js';
import type { Comparison } from '../report/compare.js';
import type { Leaf } from '../report/flatten.js';

/** One row of the runs page: compact, so a store with thousands of runs lists in one response. */
export interface RunSummary {
  id: string;
  /** `pipe run --name` and `--tag`s. */
  name?: string;
  tags?: string[];
  pipeline: string;
  variant?: string;
  /** The sweep the run is a variant of (its page: /api/sweeps/<id>). */
  sweep?: string;
  /** The git commit of the pipeline's checkout, and whether tracked files had changes. */
  git?: { commit: string; dirty: boolean };
  host?: string;
  /** `pipe runs note`s, oldest first. */
  notes?: { at: string; text: string }[];
  status: string;
  startedAt: string;
  /** Wall time, once the run recorded its end. */
  seconds?: number;
  /** Stages that ran (not from the cache), out of all. */
  ran: number;
  stages: number;
  /** Its value of each param that differs between the listed runs (RunsList.params). */
  params: Record<string, Leaf>;
  split?: string;
  accuracy?: number;
  balancedAccuracy?: number;
  macroF1?: number;
  leaky?: boolean;
  leakage?: string;
}

export interface RunsList {
  store: string;
  /** Param paths that differ between the runs, e.g. "train.epochs". */
  params: string[];
  runs: RunSummary[];
  /** Run folders whose run.json cannot be read (a run killed while writing it, a truncated copy). */
  damaged: string[];
}

/** One epoch of one training stage. */
export interface EpochPoint extends Omit<EpochRow, 'seconds'> {
  stage: string;
  /** Training seconds from the stage's first epoch to the end of this one (when epochs record their time). */
  elapsed?: number;
}

export interface ConfusionView {
  stage: string;
  split: string;
  classes: string[];
  /** matrix[true][predicted] counts. */
  matrix: number[][];
}

export interface RunDetail {
  run: RunSummary;
  /** Each stage: how it went and its params, flattened ("layers[0].conv2d.filters"). */
  stages: { id: string; uses: string; status: string; seconds: number; params: Record<string, Leaf>; error?: string }[];
  /** Every gate-able number of the run (test.accuracy, train.bestValAccuracy, ...). */
  values: Record<string, number>;
  epochs: EpochPoint[];
  confusion: ConfusionView[];
  /** URL of the run's HTML report, served from the store, when it has one. */
  report?: string;
  /** Whether an evaluate stage of the run wrote predictions (its mistakes page has something to show). */
  mistakes: boolean;
}

/** One evaluated split: every scored row with its true and predicted class and probabilities (predictions.json). */
export interface EvaluatedSplit {
  stage: string;
  split: string;
  classes: string[];
  /** URL prefix of the scored images, `${images}${row}.png`; absent when the evaluated dataset is not in the store. */
  images?: string;
  rows: number[];
  source: number[];
  truth: number[];
  predicted: number[];
  probabilities: number[][];
}

/** A group of identical or near-identical images the leakage check found, with its thumbnail strip. */
export interface LeakGroup {
  kind: 'exact' | 'near';
  /** "train × test", or one split name for copies within it. */
  pair: string;
  size: number;
  labelConflict: boolean;
  rows: { row?: number; source?: number; split: string; label: string }[];
  /** A PNG data: URL (only those the leakage-check stage drew). */
  thumbnail?: string;
}

export interface MistakesDetail {
  run: RunSummary;
  splits: EvaluatedSplit[];
  leaks: LeakGroup[];
}

/** One variant of a sweep: its values of the swept params and every gate-able number. */
export interface SweepVariant {
  id: string;
  variant: string;
  status: string;
  params: Record<string, Leaf>;
  values: Record<string, number>;
}

export interface SweepDetail {
  id: string;
  pipeline: string;
  /** The swept param paths (train.epochs, build.layers[0].conv2d.filters), in the sweep's order. */
  params: string[];
  /** Numbers every variant has, those that differ between them first. */
  metrics: string[];
  /** The metric shown first: the headline split's accuracy where the variants have it. */
  metric?: string;
  /** The latest run of each variant, in the sweep's order. */
  variants: SweepVariant[];
}

export interface CompareDetail {
  comparison: Comparison;
  runs: RunDetail[];
}

/** Server-Sent Events of /api/runs/<id>/events. */
export type LiveEvent = { type: 'epoch'; point: EpochPoint } | { type: 'status'; status: string };
