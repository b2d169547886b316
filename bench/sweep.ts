// `npm run bench:sweep`: wall time of a 4-variant sweep of the quickstart (learning rate × batch size) through
// the queue, with 1 worker and with 2 workers, each time from empty stores and an empty remote cache: a
// redis-server and an s3rver on free ports of 127.0.0.1 (started and stopped by this script), `pipe worker`
// processes of this checkout with a store each, and `pipe run … --queue`. Interleaved over --rounds; prints
// medians and the speed-up. `--local` adds the same sweep run here with --jobs 1 and --jobs 2. Other arguments go
// to `pipe run` (e.g. -- --set train.epochs=2). Figures are of one machine at one time: compare the ratios, not
// the seconds, and note the load average printed beside them.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPipe, startWorker } from '../harness/pipe-process.js';
import { startRedis, type RedisServer } from '../harness/redis-server.js';
import { remoteEnv, startS3Server, type S3Server } from '../harness/s3-server-process.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'bin', 'pipe.js');
const SWEEP = ['--sweep', 'train.optimizer.learningRate=[0.002,0.001]', '--sweep', 'train.batchSize=[32,64]'];
const runArgs = (extra: string[]) => ['run', 'pipelines/quickstart.yaml', ...SWEEP, ...extra];

const emptyDir = (prefix: string) => mkdtemp(join(tmpdir(), prefix));

/** The sweep through the queue with `count` workers, each with an empty store; an empty remote prefix each time. */
async function onQueue(count: number, extra: string[], servers: { redis: RedisServer; s3: S3Server }, prefix: string): Promise<number> {
  const dirs: string[] = [];
  const remote = (write: boolean) => remoteEnv(servers.s3.port, prefix, write ? { PIPE_REMOTE_CACHE_WRITE: '1' } : {});
  const store = async () => {
    const dir = await emptyDir('pipe-bench-store-');
    dirs.push(dir);
    return dir;
  };
  const workers = await Promise.all(Array.from({ length: count }, async () => startWorker(root, servers.redis.url, { PIPE_ARTIFACTS: await store(), ...remote(true) })));
  try {
    const started = performance.now();
    const run = startPipe(root, [...runArgs(extra), '--queue', servers.redis.url], { PIPE_ARTIFACTS: await store(), ...remote(false) });
    const { code } = await run.exited;
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`the sweep on ${count} worker(s) failed:\n${run.output}`);
    return seconds;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** The sweep run here, `jobs` variants at a time, from an empty store. */
async function local(jobs: number, extra: string[]): Promise<number> {
  const store = await emptyDir('pipe-bench-sweep-');
  try {
    const started = performance.now();
    const r = spawnSync(process.execPath, [bin, ...runArgs(extra), '--jobs', String(jobs)], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true', PIPE_ARTIFACTS: store } });
    const seconds = (performance.now() - started) / 1000;
    if (r.status !== 0) throw new Error(`sweep with --jobs ${jobs} failed:\n${r.stdout}\n${r.stderr}`);
    return seconds;
  } finally {
    await rm(store, { recursive: true, force: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  // --rounds and --local are ours; everything else goes to `pipe run` as given.
  const extra = process.argv.slice(2);
  let rounds = 1;
  const at = extra.findIndex((a) => a === '--rounds' || a.startsWith('--rounds='));
  if (at >= 0) {
    const [flag] = extra.splice(at, 1);
    rounds = Number(flag.includes('=') ? flag.split('=')[1] : extra.splice(at, 1)[0]);
  }
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a whole number of at least 1');
  const withLocal = extra.includes('--local');
  if (withLocal) extra.splice(extra.indexOf('--local'), 1);

  const routes: { name: string; measure: (round: number) => Promise<number> }[] = [];
  const [redis, s3] = await Promise.all([startRedis(), startS3Server()]);
  try {
    for (const count of [1, 2]) {
      routes.push({ name: `queue, ${count} worker${count > 1 ? 's' : ''}`, measure: (round) => onQueue(count, extra, { redis, s3 }, `bench-${count}-${round}`) });
    }
    if (withLocal) for (const jobs of [1, 2]) routes.push({ name: `local, --jobs ${jobs}`, measure: () => local(jobs, extra) });
    const times = new Map(routes.map((r) => [r.name, [] as number[]]));
    for (let round = 1; round <= rounds; round++) {
      for (const route of routes) {
        const load = loadavg()[0];
        const seconds = await route.measure(round);
        times.get(route.name)!.push(seconds);
        process.stdout.write(`round ${round}: ${route.name}: ${seconds.toFixed(1)} s (load average before: ${load.toFixed(1)} on ${cpus().length} cores)\n`);
      }
    }
    const base = median(times.get(routes[0].name)!);
    process.stdout.write(`\n4-variant quickstart sweep from empty stores, median of ${rounds}:\n`);
    for (const route of routes) {
      const m = median(times.get(route.name)!);
      process.stdout.write(`  ${route.name.padEnd(18)} ${m.toFixed(1).padStart(7)} s   speed-up ${(base / m).toFixed(2)}x\n`);
    }
    process.stdout.write(
      `command: node bin/pipe.js ${runArgs(extra)
        .map((a) => (a.startsWith('--') || !a.includes('=') ? a : `'${a}'`))
        .join(' ')} --queue redis://<redis-server> (workers: PIPE_ARTIFACTS=<empty> PIPE_REMOTE_CACHE=s3://pipe-cache/<empty prefix> PIPE_REMOTE_CACHE_WRITE=1 pipe worker --queue …)\n`,
    );
  } finally {
    await Promise.all([redis.stop(), s3.stop()]);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
