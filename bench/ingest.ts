// Ingest throughput on the real FER2013 file: the ingest-csv stage runs in a fresh child process (gunzip + parse
// + Arrow write), and the parent reports the child's whole-process wall time, uncompressed CSV MB per second of
// that wall time, the stage's own time, and the child's peak resident set size (VmHWM from /proc/self/status;
// getrusage's maxRSS can carry the parent's peak across fork+exec).
//
//   npm run build && node dist/bench/ingest.js [path/to/fer2013.csv.gz] [repeats]
//
// Without a path it looks for ../shared/data/fer2013.csv.gz next to the repository. Targets on a 2-core machine:
// ≤ 3 s wall and ≤ 1.5 GB peak RSS.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
/** Compiled to dist/bench/, so the repository root is two folders up. */
const repoRoot = resolve(here, '..', '..', '..');
export const DEFAULT_FER2013 = resolve(repoRoot, '..', 'shared', 'data', 'fer2013.csv.gz');

export interface IngestRun {
  /** Child process wall time, start to exit. */
  wallSeconds: number;
  /** Time inside the stage's run(). */
  stageSeconds: number;
  /** CPU time of the child, all its threads (user + system): less sensitive to other load than wall time. */
  cpuSeconds: number;
  /** Uncompressed CSV megabytes (10^6 bytes) per second of wall time. */
  mbPerSecond: number;
  peakRssMiB: number;
}

export interface IngestBenchResult {
  file: string;
  rows: number;
  csvMegabytes: number;
  runs: IngestRun[];
  /** The run with the median wall time. */
  median: IngestRun;
  command: string;
}

async function peakRssKiB(): Promise<number> {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(await readFile('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

/** In the child: run the stage once and print one JSON line. */
async function child(file: string): Promise<void> {
  const { runStage } = await import('../harness/stage-harness.js');
  const stage = (await import('../stages/ingest-csv.js')).default;
  const started = performance.now();
  const result = await runStage(stage, { params: { path: file } });
  const stageSeconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage();
  const summary = result.summary as { rows: number; csvMegabytes: number };
  await rm(resolve(result.outDir, '..'), { recursive: true, force: true });
  console.log(JSON.stringify({ rows: summary.rows, csvMegabytes: summary.csvMegabytes, stageSeconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssKiB: await peakRssKiB() }));
}

/** Runs the benchmark `repeats` times and prints the figures; null (with a message) when the file is absent. */
export async function benchIngest(file = DEFAULT_FER2013, repeats = 3): Promise<IngestBenchResult | null> {
  if (!existsSync(file)) {
    console.log(`ingest benchmark skipped: FER2013 not found at ${file}`);
    return null;
  }
  const runs: IngestRun[] = [];
  let rows = 0;
  let csvMegabytes = 0;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    const r = spawnSync(process.execPath, [here, '--child', file], { encoding: 'utf8' });
    const wallSeconds = (performance.now() - started) / 1000;
    if (r.status !== 0) throw new Error(`ingest child failed (exit ${r.status}):\n${r.stderr}`);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() as string) as {
      rows: number;
      csvMegabytes: number;
      stageSeconds: number;
      cpuSeconds: number;
      peakRssKiB: number;
    };
    rows = out.rows;
    csvMegabytes = out.csvMegabytes;
    runs.push({
      wallSeconds: round(wallSeconds),
      stageSeconds: round(out.stageSeconds),
      cpuSeconds: round(out.cpuSeconds),
      mbPerSecond: Math.round(out.csvMegabytes / wallSeconds),
      peakRssMiB: Math.round(out.peakRssKiB / 1024),
    });
  }
  const median = [...runs].sort((a, b) => a.wallSeconds - b.wallSeconds)[Math.floor(runs.length / 2)];
  const command = `node dist/bench/ingest.js ${file} ${repeats}`;
  console.log(
    `ingest-csv on ${file}: ${rows.toLocaleString('en-US')} rows, ${csvMegabytes} MB of CSV\n` +
      runs
        .map((r, i) => `  run ${i + 1}: wall ${r.wallSeconds} s (stage ${r.stageSeconds} s, CPU ${r.cpuSeconds} s), ${r.mbPerSecond} MB/s, peak RSS ${r.peakRssMiB} MiB`)
        .join('\n') +
      `\n  median: wall ${median.wallSeconds} s, ${median.mbPerSecond} MB/s, peak RSS ${median.peakRssMiB} MiB (targets ≤ 3 s, ≤ 1.5 GB on 2 cores)\n` +
      `  command: ${command}`,
  );
  return { file, rows, csvMegabytes, runs, median, command };
}

function round(x: number): number {
  return Number(x.toFixed(3));
}

if (process.argv[1] && resolve(process.argv[1]) === here) {
  const [flag, arg] = process.argv.slice(2);
  const done =
    flag === '--child'
      ? child(arg)
      : benchIngest(flag ? resolve(flag) : DEFAULT_FER2013, arg ? Number(arg) : 3).then(() => undefined);
  done.catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
