// `npm run bench`: whole-process wall time of `pipe run` on a fully cached pipeline, from the local store and
// from the remote cache into an empty local store (an S3-protocol server, s3rver, on 127.0.0.1), then the
// FER2013 ingest benchmark when the dataset is present. Figures are measured in one run; compare ratios, not
// absolute numbers.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { remoteEnv, startS3Server } from '../harness/s3-server-process.js';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const bin = join(root, 'bin', 'pipe.js');

function pipe(args: string[], env: Record<string, string>): { seconds: number; status: number | null; output: string } {
  const started = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true', ...env } });
  return { seconds: (performance.now() - started) / 1000, status: r.status, output: r.stdout + r.stderr };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function cachedRun(pipeline: string, repeats: number): Promise<void> {
  const store = await mkdtemp(join(tmpdir(), 'pipe-bench-store-'));
  const s3 = await startS3Server();
  const remote = remoteEnv(s3.port, 'pipe');
  try {
    process.stdout.write(`populating the local and the remote cache for ${pipeline} (first run, not timed)...\n`);
    const first = pipe(['run', pipeline], { PIPE_ARTIFACTS: store, ...remote, PIPE_REMOTE_CACHE_WRITE: '1' });
    if (first.status !== 0) throw new Error(`first run failed:\n${first.output}`);
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const r = pipe(['run', pipeline], { PIPE_ARTIFACTS: store });
      if (r.status !== 0 || !/0 ran/.test(r.output)) throw new Error(`cached run did not hit the cache:\n${r.output}`);
      times.push(r.seconds);
    }
    const remoteTimes: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const empty = await mkdtemp(join(tmpdir(), 'pipe-bench-empty-'));
      const r = pipe(['run', pipeline], { PIPE_ARTIFACTS: empty, ...remote });
      await rm(empty, { recursive: true, force: true });
      if (r.status !== 0 || !/0 ran, \d+ cached \(\d+ from the remote cache\)/.test(r.output)) throw new Error(`remote run did not hit the remote cache:\n${r.output}`);
      remoteTimes.push(r.seconds);
    }
    const help: number[] = [];
    for (let i = 0; i < repeats; i++) help.push(pipe(['--help'], {}).seconds);
    process.stdout.write(
      `\ncached run of ${pipeline} (whole process, ${repeats} runs): median ${median(times).toFixed(3)} s, min ${Math.min(...times).toFixed(3)} s (target ≤ 1 s)\n` +
        `remote-cached run into an empty local store (whole process, ${repeats} runs): median ${median(remoteTimes).toFixed(3)} s, min ${Math.min(...remoteTimes).toFixed(3)} s\n` +
        `pipe --help: median ${median(help).toFixed(3)} s\n` +
        `commands: PIPE_ARTIFACTS=<populated store> node bin/pipe.js run ${pipeline}\n` +
        `          PIPE_ARTIFACTS=<empty> PIPE_REMOTE_CACHE=s3://pipe-cache/pipe PIPE_REMOTE_CACHE_ENDPOINT=<s3rver on 127.0.0.1> node bin/pipe.js run ${pipeline}\n\n`,
    );
  } finally {
    await s3.stop();
    await rm(store, { recursive: true, force: true });
    await rm(s3.dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const pipeline = process.argv[2] ?? 'pipelines/quickstart.yaml';
  await cachedRun(pipeline, 7);
  const ingestBench = join(root, 'dist', 'bench', 'ingest.js');
  if (existsSync(ingestBench)) {
    const { benchIngest } = (await import(ingestBench)) as { benchIngest?: () => Promise<unknown> };
    if (benchIngest) await benchIngest();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
