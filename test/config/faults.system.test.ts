// Fault suite, part 1: bad pipelines. Each is refused by `pipe validate` (and `pipe run`) with exit code 2, a
// message at the place (file:line:column, or the --set that caused it), no stack trace, nothing cached, and a
// sound store afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { applyOverride } from '../../src/config/overrides.js';
import { assertFault, GOOD_LAYERS, modelPipeline } from '../support/faults.js';
import { makeToyProject } from '../../harness/toy-project.js';

test('--set cannot reach a prototype: __proto__, constructor and prototype segments are refused with exit 2', async () => {
  const project = await makeToyProject();
  for (const [set, command] of [
    ['scale.__proto__.polluted=1', 'run'],
    ['stages.scale.with.constructor.prototype.polluted=1', 'validate'],
    ['sum.prototype=1', 'validate'],
  ]) {
    {
      const out = assertFault(project, project.pipe([command, 'pipeline.yaml', '--set', set]), {
        status: 2,
        place: new RegExp(`in --set ${set.replace(/[.[\]]/g, '\\$&')}: .*contains '(__proto__|constructor|prototype)'`),
      });
      assert.doesNotMatch(out, /NOT SUPPORTED|is not a function/);
    }
  }
  assert.equal(existsSync(join(project.dir, 'artifacts', 'entries')), false, 'nothing may be cached');
  // Below the parser, values are own properties: even a path through '__proto__' writes no prototype.
  const doc: Record<string, unknown> = { stages: {} };
  applyOverride(doc, { text: 'x', path: ['stages', '__proto__', 'polluted'], raw: '1', value: 1 });
  applyOverride(doc, { text: 'x', path: ['constructor', 'prototype', 'polluted'], raw: '1', value: 1 });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(doc.stages), Object.prototype);
});

test('a network that cannot work is refused at validate time, naming the layer, its shapes and the fix', async () => {
  const cases = [
    {
      layers: GOOD_LAYERS.replace('kernelSize: 3', 'kernelSize: 17'),
      place: /pipeline\.yaml:13:33: error: stage 'build' \(build-model\): layers\[0\] \(conv2d\): input \[16, 16, 1\] → output \[0, 0, 4\]: its kernelSize 17 does not fit/,
      fix: /hint: use kernelSize ≤ 16/,
    },
    {
      layers: GOOD_LAYERS.replace('poolSize: 2', 'poolSize: 64'),
      place: /pipeline\.yaml:14:\d+: error: .*layers\[1\] \(maxPooling2d\): input \[14, 14, 4\] → output \[0, 0, 4\]/,
      fix: /hint: use poolSize ≤ 14/,
    },
    {
      layers: GOOD_LAYERS.replace('        - flatten: {}\n', ''),
      place: /pipeline\.yaml:15:\d+: error: .*layers\[2\] \(dense\): input \[7, 7, 4\] → output \[7, 7, 7\]: dense needs a flat vector/,
      fix: /hint: put flatten \(or globalAveragePooling2d\) before it/,
    },
    {
      layers: GOOD_LAYERS.replace('        - dense: { units: 7, activation: softmax }', '        - conv2d: { filters: 7, kernelSize: 1 }').replace('        - flatten: {}\n', ''),
      place: /pipeline\.yaml:15:\d+: error: .*the network ends with \[7, 7, 7\] per image/,
      fix: /hint: end with flatten/,
    },
  ];
  for (const c of cases) {
    const project = await makeToyProject(modelPipeline(c.layers));
    for (const command of ['validate', 'run']) {
      const out = assertFault(project, project.pipe([command, 'pipeline.yaml']), { status: 2, place: c.place });
      assert.match(out, c.fix);
    }
    assert.equal(existsSync(join(project.dir, 'artifacts', 'entries')), false, 'nothing may be cached');
  }
  // The same check names the --set that made a layer too large.
  const project = await makeToyProject(modelPipeline(GOOD_LAYERS));
  assert.equal(project.pipe(['validate', 'pipeline.yaml']).status, 0);
  assertFault(project, project.pipe(['validate', 'pipeline.yaml', '--set', 'build.layers[0].conv2d.kernelSize=40']), {
    status: 2,
    place: /in --set build\.layers\[0\]\.conv2d\.kernelSize=40: .*layers\[0\] \(conv2d\)/,
  });
});

test('a wire from an output to an input that cannot read it is refused at the wire', async () => {
  const project = await makeToyProject(modelPipeline(GOOD_LAYERS, { trainModel: 'build.summary' }));
  for (const command of ['validate', 'run']) {
    const out = assertFault(project, project.pipe([command, 'pipeline.yaml']), {
      status: 2,
      place: /pipeline\.yaml:19:22: error: input 'model' of stage 'train' \(train\) takes a model, but 'build\.summary' is a model-summary \(summary\.json\)/,
    });
    assert.match(out, /hint: wire it to 'build\.model'/);
  }
  assertFault(project, project.pipe(['validate', 'pipeline.yaml', '--set', 'stages.train.inputs.data=build.model']), {
    status: 2,
    place: /in --set stages\.train\.inputs\.data=build\.model: input 'data' of stage 'train' \(train\) takes a dataset, but 'build\.model' is a model/,
  });
});

test('a YAML alias bomb is refused at its place', async () => {
  const project = await makeToyProject();
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...'bcdefg'.split('').map((k, i) => `${k}: &${k} [${Array(10).fill(`*${'abcdef'[i]}`).join(', ')}]`)];
  await writeFile(project.pipeline, `name: bomb\n${bomb.join('\n')}\nstages:\n  s: { uses: ./stages/source.mjs }\n`);
  assertFault(project, project.pipe(['validate', 'pipeline.yaml']), {
    status: 2,
    place: /pipeline\.yaml:4:\d+: error: YAML aliases here expand into too many values/,
  });
});

test('bytes that are not UTF-8 are refused at their line and column', async () => {
  const project = await makeToyProject();
  await writeFile(project.pipeline, Buffer.concat([Buffer.from('name: toy\ndescription: caf'), Buffer.from([0xe9]), Buffer.from(' au lait\nstages:\n  s: { uses: ./stages/source.mjs }\n')]));
  assertFault(project, project.pipe(['validate', 'pipeline.yaml']), {
    status: 2,
    place: /pipeline\.yaml:2:17: error: the file is not valid UTF-8: byte 0xe9/,
  });
});

test('a seed too large for the generators is refused, in the file and from --set', async () => {
  const project = await makeToyProject();
  assertFault(project, project.pipe(['validate', 'pipeline.yaml', '--set', 'seed=9007199254740993']), {
    status: 2,
    place: /in --set seed=9007199254740993: 'seed' must be <= 4294967295/,
  });
  await writeFile(project.pipeline, 'name: toy\nseed: 4294967296\nstages:\n  s: { uses: ./stages/source.mjs }\n');
  assertFault(project, project.pipe(['validate', 'pipeline.yaml']), { status: 2, place: /pipeline\.yaml:2:7: error: 'seed' must be <= 4294967295/ });
});

test('terminal control characters in a pipeline name are escaped in CLI output', async () => {
  const project = await makeToyProject();
  const name = 'toy\\e]0;owned\\a\\e[31mred';
  for (const [args, status] of [
    [['validate', 'pipeline.yaml', '--set', `name="${name}"`], 0],
    [['run', 'pipeline.yaml', '--set', `name="${name}"`], 0],
    [['status', 'pipeline.yaml', '--set', `name="${name}"`], 0],
    [['runs'], 0],
  ] as const) {
    const out = assertFault(project, project.pipe([...args]), { status, place: /toy\\x1b\]0;owned\\x07\\x1b\[31mred/ });
    assert.doesNotMatch(out, /[\u001b\u0007]/, `raw control characters in the output of pipe ${args[0]}`);
  }
});
