// What the report says about how a model was trained, from its history.json, and how evaluate inferred, from metrics.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainedOn } from '../../src/report/history.js';
import { inferredIn } from '../../src/report/metrics.js';

test('the report names the kernels and the precision a history says it trained with, and nothing when it says neither', () => {
  const kernels = 'wasm, convolutions on oneDNN libdnnl.so.2 (oneDNN 2.6.3, avx512_core_bf16)';
  assert.equal(trainedOn({ backend: 'wasm', kernels, precision: 'bf16' }), `Trained on ${kernels}, convolutions and matrix products in bf16 (fp32 accumulation).`);
  assert.equal(trainedOn({ backend: 'cpu', kernels: 'cpu', precision: 'fp32' }), 'Trained on cpu, in fp32.');
  assert.equal(trainedOn({ backend: 'wasm' }), 'Trained on wasm.');
  assert.equal(trainedOn({}), '');
});

test('the report says what evaluate inferred in where metrics.json says, and nothing where it does not', () => {
  assert.equal(inferredIn({ precision: 'bf16' }), 'Inferred with convolutions and matrix products in bf16 (fp32 accumulation).');
  assert.equal(inferredIn({ precision: 'fp32' }), 'Inferred in fp32.');
  assert.equal(inferredIn({}), '');
});
