// The dashboard's view of the store: run records, their metrics, training curves and confusion matrices, read
// with the same readers as `pipe runs`, `pipe compare` and the report. Nothing here writes to the store.
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { latestTargets } from '../runs/latest.js';
import { readRun, scanRuns, type RecordCache } from '../runs/read.js';
import type { RunRecord } from '../runs/record.js';
import { runDir } from '../runs/write.js';
import { HISTORY_FILE, parseEpoch, readHistory } from '../formats/history.js';
import { isObject, readOrUndefined } from '../formats/json-file.js';
import { METRICS_FILE, readMetrics } from '../formats/metrics.js';
import { compareRuns } from '../report/compare.js';
import { flattenParams } from '../report/flatten.js';
import { epochRow, historyRows, type EpochRow } from '../report/history.js';
import { metricsView } from '../report/metrics.js';
import { comparedRun, readRunMetrics, type RunMetrics } from '../report/run-metrics.js';
import { runsTable, type RunRow } from '../report/runs-table.js';
import type { CompareDetail, ConfusionView, EpochPoint, RunDetail, RunSummary, RunsList } from './api.js';

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
    ...(record.sweep ? { variant: record.sweep.variant } : {}),
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
  };
}

/** A run id as it may appear in a URL: one path segment of the characters run ids are made of. */
export function isRunId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id) && !id.includes('..');
}

export async function runDetail(storeRoot: string, id: string): Promise<RunDetail> {
  return detailOf(storeRoot, await readRun(storeRoot, id));
}

export async function compareDetail(storeRoot: string, ids: string[]): Promise<CompareDetail> {
  const records = await Promise.all(ids.map((id) => readRun(storeRoot, id)));
  const compared = await Promise.all(records.map((r) => comparedRun(storeRoot, r)));
  return { comparison: compareRuns(compared), runs: await Promise.all(records.map((r) => detailOf(storeRoot, r))) };
}
