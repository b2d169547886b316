// `--set` reaches into lists by index, so an architecture variant is one flag away.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '../../src/config/load.js';
import { PipeErrors } from '../../src/errors.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const quickstart = join(repoRoot, 'pipelines', 'quickstart.yaml');

test('--set stage.list[i].key=value changes one item of a list param', async () => {
  const p = await loadPipeline(quickstart, { sets: ['build.layers[0].conv2d.filters=8', 'build.layers.2.conv2d.kernelSize=5'] });
  const layers = p.stages.build.params.layers as Record<string, Record<string, unknown>>[];
  assert.equal(layers[0].conv2d.filters, 8);
  assert.equal(layers[2].conv2d.kernelSize, 5);
  assert.equal(layers[1].maxPooling2d.poolSize, 2, 'other items are untouched');
});

test('--set with an index past the end of a list, or a misspelt key inside an item, is a clear error', async () => {
  await assert.rejects(loadPipeline(quickstart, { sets: ['build.layers[30].conv2d.filters=8'] }), (err: unknown) => {
    assert.ok(err instanceof PipeErrors);
    assert.match(err.errors[0].message, /'stages\.build\.with\.layers' is a list of 10 items; '30' is not one of its indexes/);
    assert.match(err.errors[0].hint ?? '', /from 0 to 9/);
    return true;
  });
  await assert.rejects(loadPipeline(quickstart, { sets: ['build.layers[0].conv2d.filter=8'] }), (err: unknown) => {
    assert.ok(err instanceof PipeErrors);
    assert.match(err.errors[0].message, /unknown key 'filter'/);
    assert.equal(err.errors[0].hint, "did you mean 'filters'?");
    return true;
  });
});
