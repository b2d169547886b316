// `pipe cache`: list the artifact cache's entries (local or remote), verify them, push and pull them by hand,
// and bound the cache's size without touching what current pipelines use.
import { readdir } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { PipeError } from '../../errors.js';
import { entryExpectation } from '../../exec/executor.js';
import type { EntryExpectation } from '../../store/artifact-cache.js';
import type { EntryInfo, LocalStore } from '../../store/local-store.js';
import { openStore, type Store } from '../../store/open-store.js';
import { formatAge, formatBytes, parseAgeDays, parseSize } from '../../store/units.js';
import type { RemoteCacheTier, RemoteEntryInfo } from '../../store/remote/protocol.js';
import { latestOfEachGroup, outlineOf, runsOfFile, stageKeys } from '../../runs/read.js';
import { openPipeline, planKeys } from '../../exec/open-pipeline.js';
import { parseCommandArgs } from '../args.js';

export const usage = `Usage: pipe cache <ls | gc | verify | push | pull> [options]

Inspect the artifact cache (the store of every stage's outputs, by cache key) and bound its size.

  pipe cache ls [--remote]     list entries: key, stage, stage type, size, time since last use (or push)
  pipe cache gc [pipelines...] remove entries, least recently used first, keeping every entry that the
                               given pipelines (default: pipelines/*.yaml) or their latest runs use (the
                               latest of each sweep variant, and of the file without --set, too); with
                               --remote, also those of the latest runs the remote has records of
  pipe cache verify            re-check every entry's files against its manifest
  pipe cache push [pipeline]   upload the pipeline's cached stages (default: every local entry) to the
                               remote cache, e.g. to share a cache warmed by hand, with the records of its
                               (every pipeline's) latest runs
  pipe cache pull [pipeline]   fetch the pipeline's stages (default: every remote entry) into the local store

The remote cache is set by PIPE_REMOTE_CACHE=s3://bucket/prefix (or file:///path of a shared folder) or the
pipeline's cache: { remote: ... }, with PIPE_REMOTE_CACHE_ENDPOINT for S3-compatible servers and the standard AWS
credential variables (see pipe run --help). push and gc --remote write to it: run them only from a trusted machine. Each run that pushes also
records which entries it used there, so gc --remote keeps what the latest runs used even on a machine without
the pipelines' inputs (a scheduled prune job).

Options:
  --cache <dir>        store root (default: $PIPE_ARTIFACTS, else ./artifacts)
  --remote             ls, gc: the remote cache instead of the local store
  --json               ls: print entries as JSON
gc options (at least one bound, or --all-unused; with --remote only --max-age, and --grace):
  --max-age <age>      remove entries unused (remote: pushed) for longer than this (e.g. 30d, 12h, 2w)
  --grace <age>        --remote: never remove anything younger than this (default 1h), so that pushes in
                       progress (files first, the entry naming them last) keep their files
  --max-entries <n>    keep at most n entries
  --max-size <size>    keep at most this many bytes (e.g. 5GB, 500MB, 2GiB)
  --all-unused         remove every entry not in use
  --dry-run            only print what would be removed
verify options:
  --fix                discard damaged entries (the next run rebuilds them)

Examples:
  pipe cache ls
  pipe cache gc --max-age 30d --max-size 5GB
  pipe cache gc --all-unused --dry-run pipelines/fer2013-baseline.yaml
  PIPE_REMOTE_CACHE=s3://team-cache/pipe pipe cache ls --remote
  PIPE_REMOTE_CACHE=s3://team-cache/pipe pipe cache gc --remote --max-age 30d
`;

interface Options {
  cache?: string;
  json: boolean;
  maxAgeDays?: number;
  graceDays?: number;
  maxEntries?: number;
  maxBytes?: number;
  allUnused: boolean;
  dryRun: boolean;
  fix: boolean;
  remote: boolean;
  positional: string[];
}

function parseArgs(argv: string[]): Options {
  const { values, positionals } = parseCommandArgs('cache', argv, {
    cache: { type: 'string' },
    json: { type: 'boolean', default: false },
    'max-age': { type: 'string' },
    grace: { type: 'string' },
    'max-entries': { type: 'string' },
    'max-size': { type: 'string' },
    'all-unused': { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    fix: { type: 'boolean', default: false },
    remote: { type: 'boolean', default: false },
  });
  const maxEntries = values['max-entries'];
  if (maxEntries !== undefined && !/^\d+$/.test(maxEntries)) throw new PipeError(`--max-entries: '${maxEntries}' is not a whole number`, { hint: 'e.g. --max-entries 100' });
  return {
    cache: values.cache,
    json: values.json!,
    ...(values['max-age'] === undefined ? {} : { maxAgeDays: parseAgeDays(values['max-age']) }),
    ...(values.grace === undefined ? {} : { graceDays: parseAgeDays(values.grace, '--grace') }),
    ...(maxEntries === undefined ? {} : { maxEntries: Number(maxEntries) }),
    ...(values['max-size'] === undefined ? {} : { maxBytes: parseSize(values['max-size']) }),
    allUnused: values['all-unused']!,
    dryRun: values['dry-run']!,
    fix: values.fix!,
    remote: values.remote!,
    positional: positionals,
  };
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const options = parseArgs(rest);
  switch (sub) {
    case 'ls':
    case 'list':
      if (options.remote) return listRemote(await remoteStore(options, false), options);
      return list((await openStore({ flag: options.cache })).cache.local, options);
    case 'gc':
      if (options.remote) return gcRemote(await remoteStore(options, true), options);
      return gc(await openStore({ flag: options.cache }), options);
    case 'verify':
      return verify((await openStore({ flag: options.cache })).cache.local, options);
    case 'push':
      return transfer('push', options);
    case 'pull':
      return transfer('pull', options);
    case undefined:
      process.stdout.write(usage);
      return 2;
    default:
      throw new PipeError(`pipe cache: unknown subcommand '${sub}'`, { hint: 'use ls, gc, verify, push or pull (see pipe cache --help)' });
  }
}

/** The store with its remote tier, from the environment (these commands take no pipeline's setting). */
async function remoteStore(options: Options, write: boolean): Promise<Store & { remote: RemoteCacheTier }> {
  const store = await openStore({ flag: options.cache, write });
  return { ...store, remote: requireRemote(store) };
}

function requireRemote(store: Store): RemoteCacheTier {
  const remote = store.cache.remote;
  if (!remote) {
    throw new PipeError('no remote cache is configured', {
      hint: 'set PIPE_REMOTE_CACHE=s3://bucket/prefix (and PIPE_REMOTE_CACHE_ENDPOINT for a server other than AWS S3) or file:///path of a shared folder, or cache: { remote: ... } in the pipeline',
    });
  }
  return remote as RemoteCacheTier;
}

/** A remote fault in a command whose whole job is the remote: exit 1 with the reason. */
function remoteFailed(error: unknown, remote: RemoteCacheTier): number {
  process.stderr.write(`remote cache ${remote.location}: ${error instanceof Error ? error.message : String(error)}\n`);
  return 1;
}

async function transfer(direction: 'push' | 'pull', options: Options): Promise<number> {
  if (options.positional.length > 1) throw new PipeError(`pipe cache ${direction}: give at most one pipeline`, { hint: 'see pipe cache --help' });
  const file = options.positional[0];
  const storeOptions = { flag: options.cache, write: direction === 'push' };
  let store: Store;
  let keys: string[] | undefined;
  let pipelineName: string | undefined;
  // With a pipeline, what each key's stage would store: a remote entry holding something else is not pulled.
  const expected = new Map<string, EntryExpectation>();
  if (file) {
    const opened = await openPipeline(file, { store: storeOptions });
    store = opened.store;
    keys = opened.plan.order.map((id) => opened.plan.stages[id].key);
    pipelineName = opened.plan.pipeline.name;
    for (const id of opened.plan.order) expected.set(opened.plan.stages[id].key, entryExpectation(opened.plan.stages[id]));
  } else {
    store = await openStore(storeOptions);
  }
  const remote = requireRemote(store);
  const cache = store.cache;
  if (direction === 'push') {
    keys ??= (await cache.local.entries()).filter((e) => !e.damaged).map((e) => e.key);
    let missing = 0;
    for (const key of keys) {
      if ((await cache.local.lookup(key)).status === 'hit') cache.schedulePush(key);
      else missing++;
    }
    const report = await cache.flush();
    for (const f of report.failed) process.stderr.write(`${f.key.slice(0, 12)}: ${f.reason}\n`);
    const notes = missing ? `; ${missing} not in the local store (run the pipeline first)` : '';
    process.stdout.write(`${report.pushed.length} pushed, ${report.present.length} already there, ${report.failed.length} failed to ${remote.location}${notes}\n`);
    // As a run with writes on does: say which entries the latest runs used, so that gc --remote keeps them.
    const runs = latestOfEachGroup((file ? await runsOfFile(store.root, file, pipelineName!) : await store.runs.list()).map(outlineOf));
    for (const outline of runs) await cache.recordRun(outline);
    if (!cache.activeRemote) return 1; // the cache warned with the reason
    if (runs.length) process.stdout.write(`recorded ${runs.length} latest ${runs.length === 1 ? 'run' : 'runs'} there (gc --remote keeps what they used)\n`);
    return report.failed.length ? 1 : 0;
  }
  try {
    keys ??= (await remote.entries()).filter((e) => !e.problem).map((e) => e.key);
  } catch (err) {
    return remoteFailed(err, remote);
  }
  const counts = { fetched: 0, local: 0, absent: 0, rejected: 0 };
  for (const key of keys) {
    const found = await cache.withLock(key, () => undefined, () => cache.lookup(key, { remote: true, expect: expected.get(key) }));
    if (!cache.activeRemote) return 1; // the cache warned with the reason
    if (found.status === 'hit') counts[found.tier === 'remote' ? 'fetched' : 'local']++;
    else if (await remote.has(key)) counts.rejected++;
    else counts.absent++;
  }
  process.stdout.write(
    `${counts.fetched} fetched from ${remote.location}, ${counts.local} already here, ${counts.absent} not in the remote cache` +
      `${counts.rejected ? `, ${counts.rejected} rejected (see the warnings)` : ''}\n`,
  );
  return counts.rejected ? 1 : 0;
}

async function listRemote(store: Store & { remote: RemoteCacheTier }, options: Options): Promise<number> {
  let entries;
  try {
    entries = (await store.remote.entries()).sort((a, b) => b.pushedAt.localeCompare(a.pushedAt));
  } catch (err) {
    return remoteFailed(err, store.remote);
  }
  if (options.json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  const now = Date.now();
  const rows = entries.map((e) => [e.key.slice(0, 12), e.stage || '?', e.problem ? `(unusable: ${e.problem})` : e.uses, formatBytes(e.bytes), `${formatAge(e.pushedAt, now)} ago`]);
  if (rows.length) process.stdout.write(`${formatTable(['KEY', 'STAGE', 'USES', 'SIZE', 'PUSHED'], rows)}\n`);
  const total = entries.reduce((sum, e) => sum + e.bytes, 0);
  process.stdout.write(`${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}, ${formatBytes(total)} in ${store.remote.location}\n`);
  return 0;
}

async function gcRemote(store: Store & { remote: RemoteCacheTier }, options: Options): Promise<number> {
  if (options.maxAgeDays === undefined || options.maxEntries !== undefined || options.maxBytes !== undefined || options.allUnused) {
    throw new PipeError('pipe cache gc --remote takes --max-age (and only that bound)', {
      hint: 'e.g. pipe cache gc --remote --max-age 30d: entries pushed longer ago and not used by the named pipelines are removed',
    });
  }
  const pipelines = options.positional.length ? options.positional : await defaultPipelines();
  let result;
  let inUse;
  try {
    const usage = await remoteUsage(store);
    inUse = await keysInUse(usage, options, pipelines);
    const graceDays = options.graceDays ?? DEFAULT_GRACE_DAYS;
    result = await store.remote.gc({ maxAgeDays: options.maxAgeDays, graceDays, keep: inUse.keep, keepRuns: usage.keepRuns, dryRun: options.dryRun });
  } catch (err) {
    if (err instanceof PipeError) throw err;
    return remoteFailed(err, store.remote);
  }
  const { keep, sources } = inUse;
  process.stdout.write(`keeping ${keep.size} ${keep.size === 1 ? 'key' : 'keys'} in use (${sources.join('; ')})\n`);
  const verb = options.dryRun ? 'would remove' : 'removed';
  for (const e of result.removed) process.stdout.write(`${verb} ${e.key.slice(0, 12)} ${e.stage || '?'} (${formatBytes(e.bytes)})\n`);
  process.stdout.write(
    `${verb} ${result.removed.length} ${result.removed.length === 1 ? 'entry' : 'entries'}, ${result.runs} older run ${result.runs === 1 ? 'record' : 'records'} ` +
      `and ${result.blobs} unreferenced ${result.blobs === 1 ? 'file' : 'files'} (${formatBytes(result.blobBytes)}) from ${store.remote.location}\n`,
  );
  return 0;
}

function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows].map((r) => r.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

function table(entries: EntryInfo[], now: number): string {
  const rows = entries.map((e) => [e.key.slice(0, 12), e.stage || '?', e.uses || (e.damaged ? '(damaged)' : '?'), formatBytes(e.bytes), `${formatAge(e.lastUsedAt, now)} ago`]);
  return formatTable(['KEY', 'STAGE', 'USES', 'SIZE', 'LAST USED'], rows);
}

function storeName(store: { root: string }): string {
  const rel = relative(process.cwd(), store.root);
  return rel && !rel.startsWith('..') ? rel : store.root;
}

async function list(store: LocalStore, options: Options): Promise<number> {
  const entries = (await store.entries()).sort((a, b) => b.lastUsedAt.localeCompare(a.lastUsedAt));
  if (options.json) {
    process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
    return 0;
  }
  const total = entries.reduce((sum, e) => sum + e.bytes, 0);
  if (entries.length) process.stdout.write(`${table(entries, Date.now())}\n`);
  process.stdout.write(`${entries.length} ${entries.length === 1 ? 'entry' : 'entries'}, ${formatBytes(total)} in ${storeName(store)}\n`);
  return 0;
}

async function defaultPipelines(): Promise<string[]> {
  try {
    const names = await readdir('pipelines');
    return names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join('pipelines', n));
  } catch {
    return [];
  }
}

/** What gc keeps besides what the pipelines' plans use: the latest runs' keys, and what a pipeline made. */
interface Usage {
  latest: Set<string>;
  /** How `latest` was found, after its count: "from the latest run of each pipeline". */
  latestFrom: string;
  /** For a pipeline whose inputs are missing here: the keys to keep, and how they were found. */
  madeBy(pipeline: string): Promise<{ keys: Set<string>; how: string }>;
}

/** Pushes write blobs before the entry that names them; an hour covers the longest push we expect. */
const DEFAULT_GRACE_DAYS = 1 / 24;

function localUsage(store: Store): Promise<Usage> {
  return store.runs.keysOfLatestRuns().then((latest) => ({
    latest,
    latestFrom: 'from the latest run of each pipeline',
    madeBy: async (pipeline) => ({ keys: await entriesMadeBy(store.cache.local, pipeline), how: `pipeline '${pipeline}' made` }),
  }));
}

/**
 * The remote's own records: the runs that pushed there (each group's latest, as local gc keeps them), and for a
 * pipeline without run records, the entries whose manifests say it built them. `keepRuns`: the run records
 * gc keeps. Runs recorded here (in the local store) count too.
 */
async function remoteUsage(store: Store & { remote: RemoteCacheTier }): Promise<Usage & { keepRuns: Set<string> }> {
  const runs = await store.remote.runs();
  for (const r of runs) if (r.problem) process.stderr.write(`warning: remote run record ${r.id} ignored: ${r.problem}\n`);
  const latestRuns = latestOfEachGroup(runs.flatMap((r) => (r.outline ? [r.outline] : [])));
  const latest = stageKeys(latestRuns);
  const remoteCount = latest.size;
  for (const key of await store.runs.keysOfLatestRuns()) latest.add(key);
  let entries: RemoteEntryInfo[] | undefined;
  return {
    latest,
    latestFrom: `from the latest run of each pipeline (${remoteCount} as the remote's run records say)`,
    keepRuns: new Set(latestRuns.map((r) => r.id)),
    madeBy: async (pipeline) => {
      const ran = latestRuns.filter((r) => r.pipeline.name === pipeline);
      if (ran.length) return { keys: stageKeys(ran), how: `the latest runs of pipeline '${pipeline}' used (the remote's run records)` };
      entries ??= await store.remote.entries();
      const made = entries.filter((e) => !e.problem && e.pipeline === pipeline).map((e) => e.key);
      return { keys: new Set(made), how: `pipeline '${pipeline}' made (the remote's manifests; it has no run records there)` };
    },
  };
}

async function keysInUse(usage: Usage, options: Options, pipelines: string[]): Promise<{ keep: Set<string>; sources: string[] }> {
  const keep = new Set(usage.latest);
  const sources = [`${keep.size} ${usage.latestFrom}`];
  for (const file of pipelines) {
    let keys: Set<string> | { pipeline: string; problem: string };
    try {
      keys = await planKeys(resolve(file), { flag: options.cache });
    } catch (err) {
      // Refuse rather than guess: deleting what a pipeline needs could cost hours of training.
      throw new PipeError(`cannot tell which cache entries ${file} uses: ${err instanceof Error ? err.message : String(err)}`, {
        hint: 'fix the pipeline (pipe validate), or name the pipelines to keep on the command line',
        cause: err,
      });
    }
    if (!(keys instanceof Set)) {
      // Its inputs are not here (e.g. a dataset not downloaded in this checkout): keep what its records say it built.
      const made = await usage.madeBy(keys.pipeline);
      for (const k of made.keys) keep.add(k);
      process.stderr.write(`warning: ${file}: ${keys.problem}; keeping the ${made.keys.size} entries ${made.how}\n`);
      sources.push(`${made.keys.size} made by ${file} (its inputs are missing)`);
      continue;
    }
    for (const k of keys) keep.add(k);
    sources.push(`${keys.size} used by ${file}`);
  }
  return { keep, sources };
}

/** Keys of the entries whose manifest says a run of this pipeline (by name) made them. */
async function entriesMadeBy(local: LocalStore, pipeline: string): Promise<Set<string>> {
  const made = (await local.manifests()).filter(({ manifest }) => manifest.meta?.pipeline === pipeline);
  return new Set(made.map(({ manifest }) => manifest.key));
}

async function gc(store: Store, options: Options): Promise<number> {
  if (options.maxAgeDays === undefined && options.maxEntries === undefined && options.maxBytes === undefined && !options.allUnused) {
    throw new PipeError('pipe cache gc: nothing to bound', { hint: 'give --max-age, --max-entries or --max-size, or --all-unused to remove every entry not in use' });
  }
  if (options.graceDays !== undefined) throw new PipeError('--grace is for pipe cache gc --remote', { hint: 'the local store locks what is being written; drop --grace' });
  const pipelines = options.positional.length ? options.positional : await defaultPipelines();
  const { keep, sources } = await keysInUse(await localUsage(store), options, pipelines);
  const { removed, keptBytes } = await store.cache.local.gc({
    maxAgeDays: options.maxAgeDays,
    maxEntries: options.allUnused ? 0 : options.maxEntries,
    maxBytes: options.allUnused ? 0 : options.maxBytes,
    keep,
    dryRun: options.dryRun,
  });
  const freed = removed.reduce((sum, e) => sum + e.bytes, 0);
  process.stdout.write(`keeping ${keep.size} ${keep.size === 1 ? 'key' : 'keys'} in use (${sources.join('; ')})\n`);
  if (removed.length) process.stdout.write(`${options.dryRun ? 'would remove' : 'removed'}:\n${table(removed, Date.now())}\n`);
  const n = `${removed.length} ${removed.length === 1 ? 'entry' : 'entries'}`;
  const what = options.dryRun ? `would remove ${n}, freeing ${formatBytes(freed)}` : `removed ${n}, freed ${formatBytes(freed)}`;
  process.stdout.write(`${what}; ${formatBytes(keptBytes)} left in ${storeName(store)}\n`);
  return 0;
}

async function verify(store: LocalStore, options: Options): Promise<number> {
  const entries = await store.entries();
  let damaged = 0;
  for (const entry of entries) {
    const found = await store.lookup(entry.key, { rehash: true });
    if (found.status !== 'damaged') continue;
    damaged++;
    process.stdout.write(`${entry.key.slice(0, 12)} ${entry.stage || '?'}: ${found.reason}${options.fix ? ' (discarded)' : ''}\n`);
    if (options.fix) await store.discard(entry.key);
  }
  process.stdout.write(`${entries.length} entries checked, ${damaged} damaged\n`);
  return damaged && !options.fix ? 1 : 0;
}
