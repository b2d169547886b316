// What a run record keeps besides its stages, and the commands that change the run log, through the real CLI on
// a toy project: --name and --tag (checked, shown by `pipe runs`, passed to a sweep's runs), the git commit of
// the pipeline's checkout (absent outside one, and without git), `pipe runs note` (notes add up, and survive the
// running run's own rewrites), and `pipe runs rm` (artifacts stay, latest/ is repointed or dropped, `pipe cache
// gc` then decides by the records left).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { hostTag } from '../../src/owner.js';
import type { RunRecord } from '../../src/runs/record.js';
import { startPipe } from '../../harness/pipe-process.js';
import { makeToyProject, type ToyProject } from '../../harness/toy-project.js';

/** Outside any git checkout above it, whatever the machine's temp folder is in. */
const noGitAbove = (project: ToyProject) => ({ GIT_CEILING_DIRECTORIES: dirname(project.dir) });

function ok(project: ToyProject, args: string[], env: Record<string, string> = {}): string {
  const r = project.pipe(args, { ...noGitAbove(project), ...env });
  assert.equal(r.status, 0, `pipe ${args.join(' ')}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

function runJson(project: ToyProject, args: string[], env: Record<string, string> = {}): RunRecord {
  return JSON.parse(ok(project, ['run', 'pipeline.yaml', '--json', ...args], env)) as RunRecord;
}

async function recordOf(project: ToyProject, id: string): Promise<RunRecord> {
  return JSON.parse(await readFile(join(project.dir, 'artifacts', 'runs', id, 'run.json'), 'utf8')) as RunRecord;
}

function git(dir: string, ...args: string[]): void {
  const r = spawnSync('git', ['-c', 'user.email=test@example.com', '-c', 'user.name=test', ...args], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

describe('run records: name, tags, provenance', () => {
  it('records --name and --tag, shows them in pipe runs and pipe runs --json, and checks them', async () => {
    const project = await makeToyProject();
    const record = runJson(project, ['--name', 'wider conv, lr 0.002', '--tag', 'baseline', '--tag', 'fer2013', '--tag', 'baseline']);
    assert.equal(record.name, 'wider conv, lr 0.002');
    assert.deepEqual(record.tags, ['baseline', 'fer2013'], 'a repeated tag is kept once');
    assert.deepEqual((await recordOf(project, record.id)).tags, ['baseline', 'fer2013']);
    ok(project, ['run', 'pipeline.yaml', '--force=report']);

    const table = ok(project, ['runs']);
    assert.match(table, /^run +name +pipeline +status +time +ran .* leakage +tags$/m);
    assert.match(table, new RegExp(`^${record.id} +wider conv, lr 0\\.002 +toy +ok .* baseline fer2013$`, 'm'));
    const listed = JSON.parse(ok(project, ['runs', '--json'])) as RunRecord[];
    const named = listed.find((r) => r.id === record.id)!;
    assert.equal(named.name, 'wider conv, lr 0.002');
    assert.deepEqual(named.tags, ['baseline', 'fer2013']);
    assert.equal(listed.find((r) => r.id !== record.id)!.name, undefined, 'a run without --name has none');
    assert.match(ok(project, ['runs', record.id]), /^ {2}name: wider conv, lr 0\.002\n {2}tags: baseline fer2013\n/m);
    assert.match(ok(project, ['runs', '--markdown']), /\| name \|.*\| tags \|/);

    for (const [args, message] of [
      [['--name', ''], /--name is empty/],
      [['--name', 'a\u001b[31mred'], /--name holds a control character \(\\u001b\)/],
      [['--name', 'x'.repeat(121)], /--name is 121 characters long; at most 120/],
      [['--tag', 'two words'], /--tag 'two words' holds a space/],
      [['--tag', 'a,b'], /--tag 'a,b' holds a comma[\s\S]*repeat --tag for each/],
      [['--tag', 't'.repeat(65)], /at most 64/],
    ] as const) {
      const bad = project.pipe(['run', 'pipeline.yaml', ...args]);
      assert.equal(bad.status, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, message);
    }
    assert.equal((await readdir(join(project.dir, 'artifacts', 'runs'))).length, 2, 'a refused flag starts no run');
    await rm(project.dir, { recursive: true, force: true });
  });

  it('passes the name and tags to every run of a sweep, the variant beside it', async () => {
    const project = await makeToyProject();
    const out = JSON.parse(ok(project, ['run', 'pipeline.yaml', '--json', '--sweep', 'scale.factor=[3,4]', '--name', 'factor sweep', '--tag', 'sweep'])) as {
      runs: RunRecord[];
      shared: RunRecord[];
    };
    assert.equal(out.runs.length, 2);
    for (const r of [...out.runs, ...out.shared]) {
      assert.equal(r.name, 'factor sweep');
      assert.deepEqual(r.tags, ['sweep']);
    }
    assert.deepEqual(out.runs.map((r) => r.sweep?.variant).sort(), ['factor=3', 'factor=4']);
    await rm(project.dir, { recursive: true, force: true });
  });

  it('records the git commit of the checkout holding the pipeline, and whether tracked files changed', async () => {
    const project = await makeToyProject();
    git(project.dir, 'init', '-q');
    git(project.dir, 'add', 'pipeline.yaml', 'stages');
    git(project.dir, 'commit', '-q', '-m', 'toy');
    const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: project.dir, encoding: 'utf8' }).stdout.trim();
    // Untracked files (the artifacts) do not make the tree dirty.
    const clean = runJson(project, []);
    assert.deepEqual(clean.git, { commit: head, dirty: false });
    await writeFile(project.pipeline, `${await readFile(project.pipeline, 'utf8')}# edited\n`);
    const dirty = runJson(project, []);
    assert.deepEqual(dirty.git, { commit: head, dirty: true });
    assert.match(ok(project, ['runs', dirty.id]), new RegExp(`git ${head.slice(0, 12)} \\(uncommitted changes\\) · host \\S+ · pipe \\d+\\.\\d+\\.\\d+`));
    assert.equal(typeof dirty.host, 'string');
    const version = (JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    assert.equal(dirty.pipeVersion, version);
    await rm(project.dir, { recursive: true, force: true });
  });

  it('records no commit outside a git checkout, and runs as well where git is not installed', async () => {
    const project = await makeToyProject();
    const outside = runJson(project, []);
    assert.equal(outside.git, undefined);
    assert.equal(typeof outside.host, 'string');
    // A checkout, but no git on the PATH: the run goes on without the commit.
    git(project.dir, 'init', '-q');
    git(project.dir, 'add', 'pipeline.yaml');
    git(project.dir, 'commit', '-q', '-m', 'toy');
    const empty = await mkdtemp(join(tmpdir(), 'pipe-no-git-'));
    const noGit = runJson(project, ['--force=report'], { PATH: empty });
    assert.equal(noGit.git, undefined);
    assert.equal(noGit.status, 'ok');
    await rm(empty, { recursive: true, force: true });
    await rm(project.dir, { recursive: true, force: true });
  });

  it('reads records written before these fields existed', async () => {
    const project = await makeToyProject();
    const record = runJson(project, []);
    const old = structuredClone(record) as Partial<RunRecord> & { id: string };
    old.id = '2026-01-01T00-00-00-000Z-0ld0';
    for (const field of ['name', 'tags', 'notes', 'git', 'host', 'pipeVersion'] as const) delete old[field];
    await mkdir(join(project.dir, 'artifacts', 'runs', old.id), { recursive: true });
    await writeFile(join(project.dir, 'artifacts', 'runs', old.id, 'run.json'), JSON.stringify(old));
    assert.match(ok(project, ['runs']), new RegExp(`^${old.id} +toy +ok`, 'm'));
    assert.match(ok(project, ['runs', old.id]), /ran/);
    await rm(project.dir, { recursive: true, force: true });
  });
});

describe('pipe runs note', () => {
  it('adds notes with their time, one after another, by id or a unique start of it', async () => {
    const project = await makeToyProject();
    const { id } = runJson(project, []);
    assert.match(ok(project, ['runs', 'note', id.slice(0, 24), 'first <b>look</b>']), new RegExp(`^noted run ${id} \\(1 note\\)$`, 'm'));
    assert.match(ok(project, ['runs', 'note', id, 'second,\non two lines']), /\(2 notes\)/);
    const record = await recordOf(project, id);
    assert.deepEqual(record.notes?.map((n) => n.text), ['first <b>look</b>', 'second,\non two lines']);
    assert.ok(record.notes!.every((n) => !Number.isNaN(Date.parse(n.at))));
    assert.ok(record.notes![0].at <= record.notes![1].at);
    assert.equal(record.stages.sum.status, 'ran', 'the rest of the record is as it was');
    assert.deepEqual(Object.keys(record), Object.keys({ ...(await recordOf(project, id)) }));
    const shown = ok(project, ['runs', id]);
    assert.match(shown, /^ {2}note \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: first <b>look<\/b>$/m);
    assert.match(shown, /^ {2}note [\d :-]+: second,\n {4}on two lines$/m);
    assert.deepEqual((JSON.parse(ok(project, ['runs', '--json'])) as RunRecord[])[0].notes?.length, 2);

    const empty = project.pipe(['runs', 'note', id, '  ']);
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /the note is empty/);
    const control = project.pipe(['runs', 'note', id, 'bell\u0007']);
    assert.equal(control.status, 2);
    assert.match(control.stderr, /control character/);
    const missing = project.pipe(['runs', 'note', id]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /takes a run id and the note/);
    const help = project.pipe(['runs', 'note', '--help']);
    assert.match(help.stdout, /^Usage: pipe runs note <run-id> "<text>"/);
    assert.match(help.stdout, /Examples:\n {2}pipe runs note \S+ "/);
    await rm(project.dir, { recursive: true, force: true });
  });

  it('keeps a note added while the run goes on, through the run\'s own later writes', async () => {
    const project = await makeToyProject();
    const run = startPipe(project.dir, ['run', 'pipeline.yaml', '--set', 'scale.delayMs=150']);
    await run.waitFor(/scale.*item \d\/5/);
    const [id] = await readdir(join(project.dir, 'artifacts', 'runs'));
    assert.match(ok(project, ['runs', 'note', id, 'noted while running']), /\(1 note\)/);
    assert.equal((await run.exited).code, 0, run.output);
    const record = await recordOf(project, id);
    assert.equal(record.status, 'ok');
    assert.equal(record.stages.report.status, 'ran', 'the run wrote its record after the note');
    assert.deepEqual(record.notes?.map((n) => n.text), ['noted while running']);
    await rm(project.dir, { recursive: true, force: true });
  });
});

describe('pipe runs rm', () => {
  it('removes the record but no artifact; latest/ is repointed, then dropped; cache gc decides by the records left', async () => {
    const project = await makeToyProject();
    const store = join(project.dir, 'artifacts');
    const older = runJson(project, ['--set', 'scale.factor=3']);
    const newer = runJson(project, []);
    assert.equal(newer.stages.source.status, 'cached', 'the source entry is shared by both runs');
    const entries = async () => (JSON.parse(ok(project, ['cache', 'ls', '--json'])) as { key: string }[]).map((e) => e.key).sort();
    const allEntries = await entries();
    assert.equal(allEntries.length, 7);
    const latestRun = async () => readlink(join(store, 'latest', 'toy', 'run.json'));
    assert.equal(await latestRun(), `../../runs/${newer.id}/run.json`);
    assert.match(ok(project, ['cache', 'gc', '--all-unused', '--dry-run', 'pipeline.yaml']), /^would remove 0 entries/m, 'both runs keep their entries');

    const removed = ok(project, ['runs', 'rm', newer.id.slice(0, 26)]);
    assert.match(removed, new RegExp(`^removed run ${newer.id} \\(toy\\); its cache entries stay until 'pipe cache gc'$`, 'm'));
    assert.match(removed, new RegExp(`^artifacts/latest/toy/ now points at run ${older.id}$`, 'm'));
    await assert.rejects(stat(join(store, 'runs', newer.id)), { code: 'ENOENT' });
    assert.deepEqual(await entries(), allEntries, 'no artifact removed, the shared one included');
    assert.equal(await latestRun(), `../../runs/${older.id}/run.json`);
    assert.equal((JSON.parse(await readFile(join(store, 'latest', 'toy', 'run.json'), 'utf8')) as RunRecord).id, older.id);
    assert.deepEqual((JSON.parse(ok(project, ['runs', '--all', '--json'])) as RunRecord[]).map((r) => r.id), [older.id]);

    ok(project, ['runs', 'rm', older.id]);
    await assert.rejects(stat(join(store, 'latest', 'toy')), { code: 'ENOENT' }, 'no run of it is left: its latest/ folder goes');
    // With no records left, gc keeps what the pipeline file uses (the as-is run's entries, the shared source
    // among them) and removes what only the --set run used.
    const gc = ok(project, ['cache', 'gc', '--all-unused', 'pipeline.yaml']);
    assert.match(gc, /keeping 4 keys in use \(0 from the latest run of each pipeline; 4 used by pipeline\.yaml\)/);
    assert.match(gc, /^removed 3 entries/m);
    const left = await entries();
    assert.ok(left.includes(newer.stages.source.key) && left.includes(older.stages.source.key));
    assert.ok(!left.includes(older.stages.scale.key));
    assert.match(ok(project, ['run', 'pipeline.yaml']), /0 ran, 4 cached/);
    await rm(project.dir, { recursive: true, force: true });
  });

  it('names the closest runs for an unknown id, refuses a running run without --force, and removes a damaged record', async () => {
    const project = await makeToyProject();
    const store = join(project.dir, 'artifacts');
    const { id } = runJson(project, []);
    const typo = `${id.slice(0, -4)}zzzz`;
    for (const args of [['runs', 'rm', typo], ['runs', 'note', typo, 'text'], ['runs', typo]]) {
      const unknown = project.pipe(args);
      assert.equal(unknown.status, 2, args.join(' '));
      assert.match(unknown.stderr, new RegExp(`error: no run '${typo}' in `));
      assert.match(unknown.stderr, new RegExp(`hint: \`pipe runs\` lists the runs there; the closest: ${id}`));
    }

    // A record of a run still going (this test's own process stands for it).
    const running: RunRecord = { ...(await recordOf(project, id)), id: '2026-01-01T00-00-00-000Z-run0', status: 'running', owner: { pid: process.pid, host: hostTag() } };
    delete running.finishedAt;
    await mkdir(join(store, 'runs', running.id));
    await writeFile(join(store, 'runs', running.id, 'run.json'), JSON.stringify(running));
    const refused = project.pipe(['runs', 'rm', running.id]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, new RegExp(`run ${running.id} is still running \\(pid ${process.pid}`));
    assert.match(refused.stderr, /--force/);
    assert.match(ok(project, ['runs', 'rm', running.id, '--force']), /^removed run/m);
    await assert.rejects(stat(join(store, 'runs', running.id)), { code: 'ENOENT' });

    const damaged = '2026-01-02T00-00-00-000Z-dead';
    await mkdir(join(store, 'runs', damaged));
    await writeFile(join(store, 'runs', damaged, 'run.json'), '{"id": "2026-01');
    const note = project.pipe(['runs', 'note', damaged, 'text']);
    assert.equal(note.status, 2);
    assert.match(note.stderr, /is damaged[\s\S]*pipe runs rm/);
    assert.match(ok(project, ['runs', 'rm', damaged]), new RegExp(`^removed run ${damaged} \\(damaged record\\)`, 'm'));
    assert.equal(await readlink(join(store, 'latest', 'toy', 'run.json')), `../../runs/${id}/run.json`, 'latest/ untouched');

    const help = project.pipe(['runs', 'rm', '--help']);
    assert.match(help.stdout, /^Usage: pipe runs rm <run-id> \[--force\]/);
    assert.match(help.stdout, /pipe cache gc/);
    assert.match(help.stdout, /Examples:\n {2}pipe runs rm /);
    assert.match(project.pipe(['runs', '--help']).stdout, /pipe runs note <run-id> "<text>"/);
    await rm(project.dir, { recursive: true, force: true });
  });
});
