// Reading run records (<storeRoot>/runs/<runId>/run.json, format in ./record.ts) for `pipe runs`, `pipe compare`
// and reports; the store root itself comes from src/store/root.ts. Listings skip records that cannot be read or
// parsed: a run killed while writing its record must not break every later listing.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PipeError } from '../errors.js';
import { editDistance } from '../config/suggest.js';
import { hostTag, isProcessAlive } from '../owner.js';
import type { RunRecord } from './record.js';

export function runsDir(storeRoot: string): string {
  return join(storeRoot, 'runs');
}

function looksLikeRecord(value: unknown): value is RunRecord {
  if (!value || typeof value !== 'object') return false;
  const r = value as Partial<RunRecord>;
  return (
    typeof r.id === 'string' &&
    typeof r.startedAt === 'string' &&
    !!r.pipeline &&
    typeof r.pipeline.name === 'string' &&
    !!r.stages &&
    typeof r.stages === 'object'
  );
}

async function readRecordFile(storeRoot: string, id: string): Promise<RunRecord | undefined> {
  try {
    const parsed: unknown = JSON.parse(await readFile(join(runsDir(storeRoot), id, 'run.json'), 'utf8'));
    return looksLikeRecord(parsed) ? withLiveStatus(parsed) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A run record read from a file of its own (a CI job's saved run.json, e.g. main's latest run as a baseline).
 * Throws PipeError when the file cannot be read or is not a run record.
 */
export async function readRunRecordFile(path: string): Promise<RunRecord> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new PipeError(code === 'ENOENT' ? `run record ${path} not found` : `run record ${path} cannot be read: ${(err as Error).message}`, {
      hint: "give a run.json that 'pipe run' wrote (<artifacts>/runs/<id>/run.json or <artifacts>/latest/<pipeline>/run.json)",
    });
  }
  if (!looksLikeRecord(parsed)) {
    throw new PipeError(`${path} is not a run record`, { hint: "give a run.json that 'pipe run' wrote, or a run id from 'pipe runs'" });
  }
  return parsed;
}

async function runIds(storeRoot: string): Promise<string[]> {
  try {
    const entries = await readdir(runsDir(storeRoot), { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** A run still marked running whose process is gone on this host was killed before it could say so. */
function withLiveStatus(record: RunRecord): RunRecord {
  const owner = record.owner;
  if (record.status !== 'running' || !owner || owner.host !== hostTag() || isProcessAlive(owner.pid)) return record;
  return { ...record, status: 'interrupted' };
}

function newestFirst(a: Pick<RunRecord, 'id' | 'startedAt'>, b: Pick<RunRecord, 'id' | 'startedAt'>): number {
  // Ids start with the ISO start time, so they break ties between runs started in the same millisecond.
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/**
 * Parsed records by run id with the size and modification time of the file they were read from, for a reader that
 * lists the same store again and again (the dashboard): an unchanged file is not read or parsed twice.
 */
export type RecordCache = Map<string, { mtimeMs: number; size: number; record?: RunRecord }>;

async function readRecordCached(storeRoot: string, id: string, cache: RecordCache): Promise<RunRecord | undefined> {
  const path = join(runsDir(storeRoot), id, 'run.json');
  const st = await stat(path).catch(() => undefined);
  if (!st) {
    cache.delete(id);
    return undefined;
  }
  const known = cache.get(id);
  if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known.record && withLiveStatus(known.record);
  let record: RunRecord | undefined;
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    record = looksLikeRecord(parsed) ? parsed : undefined;
  } catch {
    record = undefined;
  }
  cache.set(id, { mtimeMs: st.mtimeMs, size: st.size, record });
  return record && withLiveStatus(record);
}

/**
 * Every run folder of the store: the readable records newest first, and the ids of those that cannot be read.
 * With `cache`, records whose file did not change since the last scan are not read again.
 */
export async function scanRuns(storeRoot: string, cache?: RecordCache): Promise<{ records: RunRecord[]; damaged: string[] }> {
  const ids = await runIds(storeRoot);
  const read = await Promise.all(ids.map((id) => (cache ? readRecordCached(storeRoot, id, cache) : readRecordFile(storeRoot, id))));
  if (cache) {
    const present = new Set(ids);
    for (const id of [...cache.keys()]) if (!present.has(id)) cache.delete(id);
  }
  return {
    records: read.filter((r): r is RunRecord => r !== undefined).sort(newestFirst),
    damaged: ids.filter((_, i) => read[i] === undefined).sort().reverse(),
  };
}

/** Every readable run record in the store, newest first. */
export async function listRuns(storeRoot: string): Promise<RunRecord[]> {
  return (await scanRuns(storeRoot)).records;
}

/** The ids closest to `given`, closest first: those sharing the longest start with it, then the fewest edits. */
export function closeRunIds(given: string, ids: string[], count = 3): string[] {
  const common = (id: string) => {
    let n = 0;
    while (n < id.length && n < given.length && id[n] === given[n]) n++;
    return n;
  };
  const scored = ids.map((id) => ({ id, common: common(id), edits: editDistance(given, id.slice(0, Math.max(given.length, 1))) }));
  scored.sort((a, b) => b.common - a.common || a.edits - b.edits || (a.id < b.id ? 1 : -1));
  return scored.slice(0, count).map((s) => s.id);
}

/**
 * The id in `ids` that `given` names: itself, or the only id that starts with it. Throws PipeError when none or
 * several match, listing the closest ids (or those it starts).
 */
export function resolveRunId(given: string, ids: string[], where: string): string {
  const matches = ids.includes(given) ? [given] : ids.filter((candidate) => candidate.startsWith(given));
  if (matches.length > 1) {
    throw new PipeError(`run id '${given}' is ambiguous: it starts ${matches.length} runs in ${where}`, {
      hint: `give more characters, e.g. one of: ${matches.sort().reverse().slice(0, 5).join(', ')}`,
    });
  }
  if (matches.length === 0) {
    const close = closeRunIds(given, ids);
    throw new PipeError(`no run '${given}' in ${where}`, {
      hint: close.length
        ? `\`pipe runs\` lists the runs there; the closest: ${close.join(', ')} (use --cache <dir> or PIPE_ARTIFACTS if they are stored elsewhere)`
        : '`pipe runs` lists the runs there (none yet); use --cache <dir> (or PIPE_ARTIFACTS) if they are stored elsewhere',
    });
  }
  return matches[0];
}

/** The full id of the run folder `given` names (see resolveRunId). */
export async function resolveRun(storeRoot: string, given: string): Promise<string> {
  return resolveRunId(given, await runIds(storeRoot), runsDir(storeRoot));
}

/** The run with this id, or with the only id that starts with it. Throws PipeError when none or several match. */
export async function readRun(storeRoot: string, id: string): Promise<RunRecord> {
  const found = await resolveRun(storeRoot, id);
  const record = await readRecordFile(storeRoot, found);
  if (!record) {
    throw new PipeError(`run record ${join(runsDir(storeRoot), found, 'run.json')} cannot be read`, {
      hint: 'the run may have been killed while writing it; compare another run',
    });
  }
  return record;
}

/**
 * A run record as it is on disk (no live status worked out), for rewriting it; undefined when the file is
 * missing, and a PipeError when it is not a run record.
 */
export async function readRecordAsWritten(storeRoot: string, id: string): Promise<RunRecord | undefined> {
  const path = join(runsDir(storeRoot), id, 'run.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!looksLikeRecord(parsed)) {
    throw new PipeError(`run record ${path} is damaged (not a whole run record)`, { hint: `'pipe runs rm ${id}' removes it` });
  }
  return parsed;
}

/** The newest run of the pipeline with this `name:`, or undefined when it never ran in this store. */
export async function latestRunOf(storeRoot: string, pipelineName: string): Promise<RunRecord | undefined> {
  return (await listRuns(storeRoot)).find((r) => r.pipeline.name === pipelineName);
}

/**
 * The runs of one pipeline file, newest first: those whose record names this file (relative to the store root),
 * so two files that share a `name:` are told apart. Records written before runs named their file match by name.
 */
export async function runsOfFile(storeRoot: string, file: string, pipelineName: string): Promise<RunRecord[]> {
  const target = resolve(file);
  return (await listRuns(storeRoot)).filter((r) =>
    r.pipeline.path !== undefined ? resolve(storeRoot, r.pipeline.path) === target : r.pipeline.name === pipelineName,
  );
}

/**
 * What `pipe cache gc` needs to know of a run (outlineOf a local record, or an outline a run left in the remote
 * cache): nothing of its params, outputs, metrics or command line, which may name paths of its machine.
 */
export interface RunOutline {
  id: string;
  startedAt: string;
  status: RunRecord['status'];
  pipeline: { name: string; file: string };
  sweep?: { variant: string; shared?: boolean };
  /** Whether it ran the file as it is (ranFileAsItIs). */
  asItIs: boolean;
  stages: Record<string, { key: string }>;
}

const OUTLINE_KEY = /^[0-9a-f]{64}$/;

/** The run outline in `value` (which arrived from a shared remote: data, checked field by field), or what is wrong with it. */
export function parseRunOutline(value: unknown): RunOutline | string {
  const o = value as Partial<RunOutline> | null;
  if (!o || typeof o !== 'object') return 'not an object';
  if (typeof o.id !== 'string' || typeof o.startedAt !== 'string' || typeof o.status !== 'string') return 'missing id, startedAt or status';
  if (!o.pipeline || typeof o.pipeline.name !== 'string' || typeof o.pipeline.file !== 'string') return 'missing pipeline name or file';
  if (o.sweep !== undefined && (!o.sweep || typeof o.sweep.variant !== 'string')) return 'malformed sweep';
  if (typeof o.asItIs !== 'boolean') return 'missing asItIs';
  if (!o.stages || typeof o.stages !== 'object') return 'no stages';
  for (const stage of Object.values(o.stages) as unknown[]) {
    if (!OUTLINE_KEY.test(String((stage as { key?: unknown } | null)?.key))) return 'a stage without a valid cache key';
  }
  return o as RunOutline;
}

/** The outline of a run record. */
export function outlineOf(record: RunRecord): RunOutline {
  const sweep = record.sweep && { variant: record.sweep.variant, ...(record.sweep.shared ? { shared: true } : {}) };
  return {
    id: record.id,
    startedAt: record.startedAt,
    status: record.status,
    pipeline: { name: record.pipeline.name, file: record.pipeline.file },
    ...(sweep ? { sweep } : {}),
    asItIs: ranFileAsItIs(record),
    stages: Object.fromEntries(Object.entries(record.stages).map(([id, stage]) => [id, { key: stage?.key }])),
  };
}

/**
 * Whether the run is of the pipeline file as it is: no --set or --sweep on its command line. A variant of the
 * file's own `sweep:` block is; a variant of a --sweep, or a run with --set, runs params the file does not hold.
 */
export function ranFileAsItIs(record: Pick<RunRecord, 'argv'>): boolean {
  return !(record.argv ?? []).some((arg) => /^--(set|sweep)(=|$)/.test(arg));
}

/**
 * Which runs of a file stand for one another (the newer replaces the older): those of one sweep variant (by
 * name), the runs of the file as it is, the runs with --set overrides, and a sweep's runs of its shared stages.
 */
function standIn(record: RunOutline): string {
  const sweep = record.sweep;
  const kind = sweep ? `${sweep.shared ? 'shared' : 'variant'}:${sweep.variant}` : record.asItIs ? 'file' : 'set';
  return `${record.pipeline.file}\0${record.pipeline.name}\0${kind}`;
}

/**
 * The runs whose entries must stay in the cache (`pipe cache gc`, local and remote, keeps them): of each group
 * of runs that stand for one another (see standIn), the newest and the newest successful. So each variant of a
 * sweep keeps its model, and so does the file as it is beside them.
 */
export function latestOfEachGroup(records: RunOutline[]): RunOutline[] {
  const newest = new Map<string, RunOutline>();
  const newestOk = new Map<string, RunOutline>();
  for (const record of [...records].sort(newestFirst)) {
    const group = standIn(record);
    if (!newest.has(group)) newest.set(group, record);
    if (record.status === 'ok' && !newestOk.has(group)) newestOk.set(group, record);
  }
  return [...new Set([...newest.values(), ...newestOk.values()])];
}

/** The cache keys of the runs' stages. */
export function stageKeys(records: RunOutline[]): Set<string> {
  const keys = new Set<string>();
  for (const record of records) for (const stage of Object.values(record.stages)) if (typeof stage?.key === 'string') keys.add(stage.key);
  return keys;
}

/**
 * What a pipeline file stands for in a comparison: its latest run; when that run is a variant of a sweep, the
 * latest run of each variant of that sweep (the runs of one `pipe run`, or for variants run one by one, the
 * newest of each), in the order they ran.
 */
export function latestOfSweep(runs: RunRecord[]): RunRecord[] {
  const latest = runs.find((r) => !r.sweep?.shared);
  if (!latest?.sweep) return latest ? [latest] : [];
  const id = latest.sweep.id;
  const variants = runs.filter((r) => r.sweep && !r.sweep.shared && (id === undefined || r.sweep.id === id));
  const newest = new Map<string, RunRecord>();
  for (const r of variants) if (!newest.has(r.sweep!.variant)) newest.set(r.sweep!.variant, r);
  return [...newest.values()].reverse();
}
