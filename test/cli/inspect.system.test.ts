// The inspection commands on a real toy project: dag (text and Mermaid), runs, and run --dry-run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeToyProject } from '../../harness/toy-project.js';

test('pipe dag prints the graph as text and as a Mermaid flowchart', async () => {
  const project = await makeToyProject();
  const text = project.pipe(['dag', 'pipeline.yaml']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /^toy\n {2}source \(\.\/stages\/source\.mjs\)\n {2}scale \(\.\/stages\/scale\.mjs\) {2}← source\.numbers\n/);
  const mermaid = project.pipe(['dag', 'pipeline.yaml', '--mermaid']);
  assert.match(mermaid.stdout, /^flowchart TD\n/);
  assert.match(mermaid.stdout, /source -->\|numbers\| scale/);
  assert.match(mermaid.stdout, /sum -->\|sum\| report/);
});

test('pipe run --dry-run says what would run and why, and runs nothing; pipe runs lists what did run', async () => {
  const project = await makeToyProject();
  const dry = project.pipe(['run', 'pipeline.yaml', '--dry-run']);
  assert.equal(dry.status, 0, dry.stderr);
  assert.match(dry.stdout, /run {5}source \(\.\/stages\/source\.mjs\): never run/);
  const none = project.pipe(['runs']);
  assert.match(none.stdout, /no runs recorded/);

  assert.equal(project.pipe(['run', 'pipeline.yaml']).status, 0);
  const dryAfter = project.pipe(['run', 'pipeline.yaml', '--dry-run', '--set', 'scale.factor=5']);
  assert.match(dryAfter.stdout, /cached {2}source/);
  assert.match(dryAfter.stdout, /run {5}scale \(\.\/stages\/scale\.mjs\): params changed: scale\.factor 2 → 5/);

  const runs = project.pipe(['runs']);
  assert.equal(runs.status, 0, runs.stderr);
  assert.match(runs.stdout, /^run +pipeline +status +time +ran +test acc/);
  assert.match(runs.stdout, /\n\S+ +toy +ok +[\d.]+ (ms|s) +4\/4 /);
  const id = runs.stdout.split('\n')[1].split(' ')[0];
  const full = project.pipe(['runs', id.slice(0, 20)]);
  assert.match(full.stdout, /ran {9}sum \(\.\/stages\/sum\.mjs\)/);
  const one = project.pipe(['runs', id.slice(0, 20), '--json']);
  assert.equal(JSON.parse(one.stdout)[0].id, id);
});
