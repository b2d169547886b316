// `pipe cache` on a real project: entries listed, gc keeping what the pipeline and its latest run use,
// removing the rest, and the pipeline still fully cached afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeToyProject } from '../../harness/toy-project.js';
import { parseAgeDays, parseSize, formatBytes } from '../../src/store/units.js';

test('pipe cache ls and gc keep the entries in use and remove the others', async () => {
  const project = await makeToyProject();
  const pipe = (...args: string[]) => {
    const r = project.pipe(args);
    assert.equal(r.status, 0, `pipe ${args.join(' ')}: ${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  pipe('run', 'pipeline.yaml');
  // Change a param: scale, sum and report get new keys; the old three entries are unused from now on.
  await writeFile(project.pipeline, (await readFile(project.pipeline, 'utf8')).replace('factor: 2', 'factor: 3'));
  pipe('run', 'pipeline.yaml');

  const ls = pipe('cache', 'ls');
  assert.match(ls, /^KEY\s+STAGE\s+USES\s+SIZE\s+LAST USED$/m);
  assert.match(ls, /^[0-9a-f]{12}\s+scale\s+\.\/stages\/scale\.mjs\s+\d+ B\s+\d+s ago$/m);
  assert.match(ls, /^7 entries, [\d.]+ kB in artifacts$/m);
  const listed = JSON.parse(pipe('cache', 'ls', '--json')) as Array<{ stage: string }>;
  assert.deepEqual(listed.map((e) => e.stage).sort(), ['report', 'report', 'scale', 'scale', 'source', 'sum', 'sum']);

  const dry = pipe('cache', 'gc', '--all-unused', '--dry-run', 'pipeline.yaml');
  assert.match(dry, /^would remove 3 entries, freeing [\d.]+ kB;/m);
  assert.match(pipe('cache', 'ls'), /^7 entries/m);

  const gc = pipe('cache', 'gc', '--all-unused', 'pipeline.yaml');
  assert.match(gc, /keeping 4 keys in use \(4 from the latest run of each pipeline; 4 used by pipeline\.yaml\)/);
  assert.match(gc, /^removed 3 entries, freed [\d.]+ kB; [\d.]+ kB left in artifacts$/m);
  assert.deepEqual(gc.match(/^[0-9a-f]{12}\s+(\w+)/gm)?.map((l) => l.split(/\s+/)[1]).sort(), ['report', 'scale', 'sum']);
  assert.match(pipe('run', 'pipeline.yaml'), /0 ran, 4 cached/);

  // Without run records, the pipeline file alone protects its entries ...
  await rm(join(project.dir, 'artifacts', 'runs'), { recursive: true });
  assert.match(pipe('cache', 'gc', '--all-unused', 'pipeline.yaml'), /^removed 0 entries/m);
  // ... and with neither (no pipelines/ folder here), everything goes.
  assert.match(pipe('cache', 'gc', '--max-entries', '0'), /^removed 4 entries/m);
  assert.match(pipe('cache', 'ls'), /^0 entries, 0 B in artifacts$/m);

  const bad = project.pipe(['cache', 'gc']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /nothing to bound/);
  await rm(project.dir, { recursive: true, force: true });
});

test('sizes and ages on the command line', () => {
  assert.equal(parseSize('5GB'), 5e9);
  assert.equal(parseSize('512MiB'), 512 * 2 ** 20);
  assert.equal(parseSize('1.5 kb'), 1500);
  assert.equal(parseSize('42'), 42);
  assert.throws(() => parseSize('5 parsecs'), /cannot read '5 parsecs' as a size/);
  assert.equal(parseAgeDays('30d'), 30);
  assert.equal(parseAgeDays('12h'), 0.5);
  assert.equal(parseAgeDays('2w'), 14);
  assert.equal(parseAgeDays('7'), 7);
  assert.throws(() => parseAgeDays('soon'), /cannot read 'soon' as an age/);
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1500), '1.5 kB');
  assert.equal(formatBytes(296_000_000), '296 MB');
});
