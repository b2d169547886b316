// `npm run bench:npx`: wall time of the first `npx pipe --help` after `npm ci`, each round with an empty npm
// cache (so npx has nothing installed from before). Target: ≤ 1 s; npx must run node_modules/.bin/pipe, not
// install and build the project into its cache (which took 15-30 s). With `-- --clone`, first clones HEAD into
// a temp folder and runs `npm ci` there (not timed), as a fresh checkout in CI would.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const args = process.argv.slice(2);
const rounds = Number(args[args.indexOf('--rounds') + 1]) || 5;

function checkout(): string {
  if (!args.includes('--clone')) return root;
  const dir = join(mkdtempSync(join(tmpdir(), 'pipe-bench-npx-')), 'pipe');
  process.stdout.write(`cloning HEAD into ${dir} and running npm ci (not timed)...\n`);
  for (const [cmd, cmdArgs, cwd] of [
    ['git', ['clone', '--quiet', root, dir], root],
    ['npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], dir],
  ] as const) {
    const r = spawnSync(cmd, [...cmdArgs], { cwd, encoding: 'utf8', stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} failed`);
  }
  return dir;
}

const dir = checkout();
const times: number[] = [];
for (let i = 0; i < rounds; i++) {
  const cache = mkdtempSync(join(tmpdir(), 'pipe-bench-npm-cache-'));
  const started = performance.now();
  const r = spawnSync('npx', ['pipe', '--help'], { cwd: dir, encoding: 'utf8', env: { ...process.env, npm_config_cache: cache, npm_config_update_notifier: 'false' } });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0 || !r.stdout.includes('Usage: pipe <command>')) throw new Error(`npx pipe --help failed:\n${r.stdout}${r.stderr}`);
  if (existsSync(join(cache, '_npx'))) throw new Error('npx installed the project into its cache instead of running node_modules/.bin/pipe');
  times.push(seconds);
}
const sorted = [...times].sort((a, b) => a - b);
process.stdout.write(
  `first \`npx pipe --help\` after npm ci, empty npm cache, ${rounds} rounds: median ${sorted[Math.floor(rounds / 2)].toFixed(3)} s, ` +
    `min ${sorted[0].toFixed(3)} s, max ${sorted[rounds - 1].toFixed(3)} s (target ≤ 1 s)\n`,
);
