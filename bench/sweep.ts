// `npm run bench:sweep`: wall time of a 4-variant sweep of the quickstart (learning rate × batch size), from an
// empty store each time, with --jobs 1 and --jobs 2, interleaved over rounds; prints medians and the speed-up.
// Extra arguments go to `pipe run` (e.g. -- --set train.epochs=2 --set train.workers=1). Figures are of one
// machine at one time: compare the ratio, not the seconds, and note the load average printed beside them.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'bin', 'pipe.js');
const SWEEP = ['--sweep', 'train.optimizer.learningRate=[0.002,0.001]', '--sweep', 'train.batchSize=[32,64]'];

async function sweep(jobs: number, extra: string[]): Promise<number> {
  const store = await mkdtemp(join(tmpdir(), 'pipe-bench-sweep-'));
  try {
    const args = ['run', 'pipelines/quickstart.yaml', ...SWEEP, ...extra, '--jobs', String(jobs)];
    const started = performance.now();
    const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true', PIPE_ARTIFACTS: store } });
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
  // --rounds is ours; everything else goes to `pipe run` as given.
  const extra = process.argv.slice(2);
  let rounds = 1;
  const at = extra.findIndex((a) => a === '--rounds' || a.startsWith('--rounds='));
  if (at >= 0) {
    const [flag] = extra.splice(at, 1);
    rounds = Number(flag.includes('=') ? flag.split('=')[1] : extra.splice(at, 1)[0]);
  }
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a whole number of at least 1');
  const times: Record<number, number[]> = { 1: [], 2: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const jobs of [1, 2]) {
      const load = loadavg()[0];
      const seconds = await sweep(jobs, extra);
      times[jobs].push(seconds);
      process.stdout.write(`round ${round}: --jobs ${jobs}: ${seconds.toFixed(1)} s (load average before: ${load.toFixed(1)} on ${cpus().length} cores)\n`);
    }
  }
  const one = median(times[1]);
  const two = median(times[2]);
  process.stdout.write(
    `\n4-variant quickstart sweep from an empty store, median of ${rounds}: --jobs 1 ${one.toFixed(1)} s, --jobs 2 ${two.toFixed(1)} s, speed-up ${(one / two).toFixed(2)}x\n` +
      `command: PIPE_ARTIFACTS=<empty> node bin/pipe.js run pipelines/quickstart.yaml ${SWEEP.map((a) => (a.startsWith('--') ? a : `'${a}'`)).join(' ')} ${extra.join(' ')} --jobs <1|2>\n`,
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
