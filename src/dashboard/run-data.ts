// The dashboard's view of the store: run records, their metrics, training curves and confusion matrices, read
// with the same readers as `pipe runs`, `pipe compare` and the report. Nothing here writes to the store.
import { readFile } from 'node:fs/promises';
import { PipeError } from '../errors.js';
import { basename, join } from 'node:path';
import { latestTargets } from '../runs/latest.js';
import { readRun, scanRuns, type RecordCache } from '../runs/read.js';
import type { RunRecord } from '../runs/record.js';
import { runDir } from '../runs/write.js';
import { HISTORY_FILE, parseEpoch, readHistory } from '../formats/history.js';
import { isObject, readOrUndefined } from '../formats/json-file.js';
import { LEAKAGE_FILE, readLeakage } from '../formats/leakage.js';
import { METRICS_FILE, readMetrics } from '../formats/metrics.js';
import { PREDICTIONS_FILE, readPredictions } from '../formats/predictions.js';
import { compareRuns, type ComparedRun } from '../report/compare.js';
import { flattenParams, type Leaf } from '../report/flatten.js';
import { epochRow, historyRows, type EpochRow } from '../report/history.js';
import { metricsView } from '../report/metrics.js';
import { leakageView } from '../report/leakage.js';
import { comparedRun, readRunMetrics, type RunMetrics } from '../report/run-metrics.js';
import { runsTable, type RunRow } from '../report/runs-table.js';
import type { CompareDetail, ConfusionView, EpochPoint, EvaluatedSplit, LeakGroup, MistakesDetail, RunDetail, RunSummary, RunsList, SweepDetail } from './api.js';
import { fileInStore } from './store-files.js';

const readMetricsOf = new WeakMap<RunRecord, Promise<RunMetrics>>();

/**
 * Metrics kept in the record, or (for runs recorded before they were kept there) read from the store, once per
 * parsed record (a record cached by the list is asked again at each refresh).
 */
async function metricsOf(storeRoot: string, record: RunRecord): Promise<RunMetrics> {
  if (record.metrics) return record.metrics;
  let read = readMetricsOf.get(record);
  if (!read) readMetricsOf.set(record, (read = readRunMetrics(storeRoot, record)));
  return read;
}

/**
 * What a person wrote on the run and where it ran, taken field by field: a record from a shared store is data,
 * and a field of the wrong shape is left out rather than trusted.
 */
function labelsOf(record: RunRecord): Pick<RunSummary, 'name' | 'tags' | 'git' | 'host' | 'notes'> {
  const git = record.git as unknown as { commit?: unknown; dirty?: unknown } | undefined;
  const tags = Array.isArray(record.tags) ? record.tags.filter((t): t is string => typeof t === 'string') : [];
  const notes = Array.isArray(record.notes)
    ? record.notes.filter((n) => isObject(n) && typeof n.text === 'string' && typeof n.at === 'string').map((n) => ({ at: n.at, text: n.text }))
    : [];
  return {
    ...(typeof record.name === 'string' ? { name: record.name } : {}),
    ...(tags.length ? { tags } : {}),
    ...(isObject(git) && typeof git.commit === 'string' ? { git: { commit: git.commit, dirty: git.dirty === true } } : {}),
    ...(typeof record.host === 'string' ? { host: record.host } : {}),
    ...(notes.length ? { notes } : {}),
  };
}

function summary(record: RunRecord, row: RunRow, metrics: RunMetrics | undefined): RunSummary {
  return {
    ...row,
    ...labelsOf(record),
    ...(record.sweep ? { variant: record.sweep.variant, ...(record.sweep.id ? { sweep: record.sweep.id } : {}) } : {}),
    ...(metrics?.leakage ? { leakage: metrics.leakage.headline } : {}),
  };
}

/** Whether the table can be built from the record: each stage an object (a record of another shape is damaged). */
function tabulable(record: RunRecord): boolean {
  return Object.values(record.stages).every((s) => isObject(s) && (s.params === undefined || isObject(s.params)) && isObject(s.outputs ?? {}));
}

/** What the server keeps between two lists: the parsed records, and the last list with what it was made from. */
export interface ListCache {
  records: RecordCache;
  last?: { signature: string; list: RunsList };
}

export async function runsList(storeRoot: string, cache?: ListCache): Promise<RunsList> {
  const scanned = await scanRuns(storeRoot, cache?.records);
  let signature = '';
  if (cache) {
    // The same files (by size and mtime) with the same live statuses make the same list: send it again.
    signature = `${scanned.damaged.join()}|${scanned.records.map((r) => `${r.id}:${cache.records.get(r.id)?.mtimeMs}:${cache.records.get(r.id)?.size}:${r.status}`).join()}`;
    if (cache.last?.signature === signature) return cache.last.list;
  }
  const records = scanned.records.filter(tabulable);
  const damaged = [...scanned.damaged, ...scanned.records.filter((r) => !records.includes(r)).map((r) => r.id)];
  const metrics = new Map<RunRecord, RunMetrics>();
  await Promise.all(records.map(async (r) => metrics.set(r, await metricsOf(storeRoot, r))));
  const table = runsTable(records, (r) => metrics.get(r), true);
  const list = {
    store: storeRoot,
    params: table.params,
    runs: records.map((r, i) => summary(r, table.rows[i], metrics.get(r))),
    damaged,
  };
  if (cache) cache.last = { signature, list };
  return list;
}

/**
 * Epoch lines of a run log (log.jsonl, one JSON object a line: a stage's `epochResult`) as points, the training
 * time summed per stage. Fed in pieces as the log grows; a line cut off at the end waits for the rest.
 */
export class EpochLog {
  private rest = '';
  private elapsed = new Map<string, number>();

  feed(text: string): EpochPoint[] {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop()!;
    const points: EpochPoint[] = [];
    for (const line of lines) {
      if (!line.includes('"epochResult"')) continue;
      let entry: unknown;
      let row: EpochRow;
      try {
        entry = JSON.parse(line);
        if (!isObject(entry) || typeof entry.stage !== 'string' || !isObject(entry.epochResult)) continue;
        row = epochRow(parseEpoch(entry.epochResult, 'log.jsonl', 'epochResult'));
      } catch {
        continue;
      }
      points.push(this.point(entry.stage, row));
    }
    return points;
  }

  point(stage: string, row: EpochRow): EpochPoint {
    const { seconds, ...rest } = row;
    let elapsed: number | undefined;
    if (seconds !== undefined) {
      elapsed = (this.elapsed.get(stage) ?? 0) + seconds;
      this.elapsed.set(stage, elapsed);
    }
    return { stage, ...rest, ...(elapsed === undefined ? {} : { elapsed }) };
  }
}

export function logFileOf(storeRoot: string, runId: string): string {
  return join(runDir(storeRoot, runId), 'log.jsonl');
}

function outputNamed(outputs: Record<string, string>, file: string): string | undefined {
  return Object.values(outputs ?? {}).find((p) => basename(p) === file);
}

/** Each training stage's epochs: its history.json once written, else (while it trains) the run log's epoch lines. */
async function epochsOf(storeRoot: string, record: RunRecord): Promise<EpochPoint[]> {
  const fromHistory = new Map<string, EpochPoint[]>();
  for (const [id, stage] of Object.entries(record.stages)) {
    const path = outputNamed(stage.outputs, HISTORY_FILE);
    if (!path || (stage.status !== 'ran' && stage.status !== 'cached')) continue;
    const history = await readOrUndefined(readHistory, join(storeRoot, path));
    if (!history) continue;
    const log = new EpochLog();
    fromHistory.set(id, historyRows(history).map((row) => log.point(id, row)));
  }
  let logged: EpochPoint[] = [];
  try {
    logged = new EpochLog().feed(`${await readFile(logFileOf(storeRoot, record.id), 'utf8')}\n`);
  } catch {
    // No log (a read-only store when it ran, or removed): the histories are all there is.
  }
  return [...[...fromHistory.values()].flat(), ...logged.filter((p) => !fromHistory.has(p.stage))];
}

async function confusionOf(storeRoot: string, record: RunRecord): Promise<ConfusionView[]> {
  const out: ConfusionView[] = [];
  for (const [id, stage] of Object.entries(record.stages)) {
    const path = outputNamed(stage.outputs, METRICS_FILE);
    if (!path || (stage.status !== 'ran' && stage.status !== 'cached')) continue;
    const metrics = await readOrUndefined(readMetrics, join(storeRoot, path));
    for (const split of metrics ? metricsView(metrics).splits : []) {
      if (split.confusion) out.push({ stage: id, split: split.split, classes: split.classes, matrix: split.confusion });
    }
  }
  return out;
}

/** URL path of a store file (each segment encoded). */
export function storeUrl(path: string): string {
  return `/store/${path.split('/').map(encodeURIComponent).join('/')}`;
}

async function detailOf(storeRoot: string, record: RunRecord): Promise<RunDetail> {
  const metrics = await metricsOf(storeRoot, record);
  const [row] = runsTable([record], () => metrics, true).rows;
  const report = latestTargets(record)['report.html'];
  return {
    run: summary(record, row, metrics),
    stages: Object.entries(record.stages).map(([id, s]) => ({
      id,
      uses: s.uses,
      status: s.status,
      seconds: s.seconds,
      params: Object.fromEntries(flattenParams(s.params ?? {})),
      ...(s.error ? { error: s.error } : {}),
    })),
    values: metrics.values,
    epochs: await epochsOf(storeRoot, record),
    confusion: await confusionOf(storeRoot, record),
    ...(report ? { report: storeUrl(report) } : {}),
    mistakes: predictionStages(record).length > 0,
  };
}

/** Stages of the run that wrote predictions.json and finished, with the file's path in the store. */
function predictionStages(record: RunRecord): { id: string; path: string }[] {
  return Object.entries(record.stages).flatMap(([id, stage]) => {
    const path = outputNamed(stage.outputs, PREDICTIONS_FILE);
    return path && (stage.status === 'ran' || stage.status === 'cached') ? [{ id, path }] : [];
  });
}

/**
 * The dataset a stage of the run that wrote predictions scored (its `data` input, else any input that is an
 * Arrow file), by its path relative to the store; undefined for any other stage, and when the record names no
 * dataset or it is not a file inside the store.
 */
export async function evaluatedDataset(storeRoot: string, record: RunRecord, stageId: string): Promise<string | undefined> {
  if (!predictionStages(record).some((s) => s.id === stageId)) return undefined;
  const stage = record.stages[stageId];
  const upstream = [stage.inputs.data, ...Object.values(stage.inputs)].filter((id): id is string => typeof id === 'string' && Object.hasOwn(record.stages, id));
  for (const id of upstream) {
    const path = Object.values(record.stages[id].outputs ?? {}).find((p) => p.endsWith('.arrow'));
    if (path && (await fileInStore(storeRoot, path))) return path;
  }
  return undefined;
}

/** How the pages reach a run's images: the server's image route, or an exported site's files. */
export type ImageBase = (record: RunRecord, stage: string, dataset: string) => string;

export const serverImages: ImageBase = (record, stage) => `/api/runs/${encodeURIComponent(record.id)}/images/${encodeURIComponent(stage)}/`;

function leakGroups(kind: LeakGroup['kind'], examples: ReturnType<typeof leakageView>['examples']): LeakGroup[] {
  return examples.map((e) => ({ kind, pair: e.pair, size: e.size, labelConflict: e.labelConflict, rows: e.rows, ...(e.thumbnail ? { thumbnail: e.thumbnail } : {}) }));
}

/** A run's mistakes page: every evaluated split's predictions, and the leakage check's example groups. */
export async function mistakesDetail(storeRoot: string, id: string, images: ImageBase = serverImages): Promise<MistakesDetail> {
  const record = await readRun(storeRoot, id);
  const metrics = await metricsOf(storeRoot, record);
  const [row] = runsTable([record], () => metrics, true).rows;
  const splits: EvaluatedSplit[] = [];
  for (const { id: stage, path } of predictionStages(record)) {
    const file = await fileInStore(storeRoot, path);
    const predictions = file && (await readOrUndefined(readPredictions, file));
    if (!predictions) continue;
    const dataset = await evaluatedDataset(storeRoot, record, stage);
    for (const [split, p] of Object.entries(predictions.splits)) {
      splits.push({ stage, split, classes: predictions.classes, ...(dataset ? { images: images(record, stage, dataset) } : {}), ...p });
    }
  }
  const leaks: LeakGroup[] = [];
  for (const stage of Object.values(record.stages)) {
    const path = outputNamed(stage.outputs, LEAKAGE_FILE);
    const file = path && (stage.status === 'ran' || stage.status === 'cached') ? await fileInStore(storeRoot, path) : undefined;
    const leakage = file && (await readOrUndefined(readLeakage, file));
    if (!leakage) continue;
    const view = leakageView(leakage);
    // Near copies first: exact ones are among them, and they are what a hash check alone misses.
    leaks.push(...leakGroups('near', view.near?.examples ?? []), ...leakGroups('exact', view.examples));
  }
  return { run: summary(record, row, metrics), splits, leaks };
}

/** The value a variant gave a swept path: its stage's resolved param, else the --set text. */
function sweptValue(record: RunRecord, path: string, flat: Map<string, Leaf>): Leaf | undefined {
  if (path === 'seed') return record.seed;
  if (flat.has(path)) return flat.get(path);
  const set = record.sweep?.sets.find((s) => s.slice(0, s.indexOf('=')).trim() === path);
  return set === undefined ? undefined : set.slice(set.indexOf('=') + 1).trim();
}

/** A sweep's page: the latest run of each of its variants, the swept params and the numbers to plot. */
export async function sweepDetail(storeRoot: string, sweepId: string): Promise<SweepDetail> {
  const runs = (await scanRuns(storeRoot)).records.filter((r) => r.sweep?.id === sweepId && !r.sweep.shared);
  if (runs.length === 0) throw new PipeError(`no sweep ${sweepId} in this store`);
  const latest = new Map<string, RunRecord>();
  // scanRuns lists newest first: the first run of a variant is its latest.
  for (const r of runs) if (!latest.has(r.sweep!.variant)) latest.set(r.sweep!.variant, r);
  const records = [...latest.values()].reverse();
  const params: string[] = [];
  for (const r of records) for (const set of r.sweep!.sets) {
    const path = set.slice(0, set.indexOf('=')).trim();
    if (path && !params.includes(path)) params.push(path);
  }
  const metrics = await Promise.all(records.map((r) => metricsOf(storeRoot, r)));
  const variants = records.map((r, i) => {
    const flat = flattenParams(Object.fromEntries(Object.entries(r.stages).map(([id, s]) => [id, s.params ?? {}])));
    const values: Record<string, Leaf> = {};
    for (const path of params) {
      const value = sweptValue(r, path, flat);
      if (value !== undefined) values[path] = value;
    }
    return { id: r.id, variant: r.sweep!.variant, status: r.status, params: values, values: metrics[i].values };
  });
  const shared = Object.keys(variants[0].values).filter((k) => variants.every((v) => typeof v.values[k] === 'number' && Number.isFinite(v.values[k])));
  const split = metrics.find((m) => m.headline)?.headline?.split ?? 'test';
  // The headline split's metrics first (test.accuracy, test.loss), then the others that differ, then the rest.
  const rank = (k: string) => (k.startsWith(`${split}.`) ? 0 : variants.some((v) => v.values[k] !== variants[0].values[k]) ? 1 : 2);
  const order = [...shared].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const metric = order.find((k) => k === `${split}.accuracy`) ?? order[0];
  return { id: sweepId, pipeline: records[0].pipeline.name, params, metrics: order, ...(metric ? { metric } : {}), variants };
}

/** A run id as it may appear in a URL: one path segment of the characters run ids are made of. */
export function isRunId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) && !id.includes('..');
}

export async function runDetail(storeRoot: string, id: string): Promise<RunDetail> {
  return detailOf(storeRoot, await readRun(storeRoot, id));
}

/** What a comparison needs of one run (an exported site compares the runs picked in the page). */
export async function comparedRunOf(storeRoot: string, id: string): Promise<ComparedRun> {
  return comparedRun(storeRoot, await readRun(storeRoot, id));
}

export async function compareDetail(storeRoot: string, ids: string[]): Promise<CompareDetail> {
  const records = await Promise.all(ids.map((id) => readRun(storeRoot, id)));
  const compared = await Promise.all(records.map((r) => comparedRun(storeRoot, r)));
  return { comparison: compareRuns(compared), runs: await Promise.all(records.map((r) => detailOf(storeRoot, r))) };
}
