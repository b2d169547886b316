// What the report says about how a model was trained, from its history.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trainedOn } from '../../src/report/history.js';

test('the report names the kernels and the precision a history says it trained with, and nothing when it says neither', () => {
  const kernels = 'wasm, convolutions on oneDNN libdnnl.so.2 (oneDNN 2.6.3, avx512_core_bf16)';
  assert.equal(trainedOn({ backend: 'wasm', kernels, precision: 'bf16' }), `Trained on ${kernels}, convolutions and matrix products in bf16 (fp32 accumulation).`);
  assert.equal(trainedOn({ backend: 'cpu', kernels: 'cpu', precision: 'fp32' }), 'Trained on cpu, in fp32.');
  assert.equal(trainedOn({ backend: 'wasm' }), 'Trained on wasm.');
  assert.equal(trainedOn({}), '');
});
