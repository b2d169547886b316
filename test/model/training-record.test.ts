// The precision a model folder records about its training (model.json's userDefinedMetadata.training): absent
// reads as unknown, a value saveModel never writes is refused with the file and the field named.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PipeError } from '../../src/errors.js';
import { modelTraining, type ModelJson } from '../../src/model/model-io.js';

const json = (userDefinedMetadata?: Record<string, unknown>): ModelJson => ({
  modelTopology: {},
  weightsManifest: [],
  ...(userDefinedMetadata ? { userDefinedMetadata } : {}),
});

test('a model folder says how its model was trained, or nothing; a foreign value is refused', () => {
  assert.deepEqual(modelTraining(json({ training: { precision: 'bf16' } })), { precision: 'bf16' });
  assert.deepEqual(modelTraining(json({ training: { precision: 'fp32' }, pipe: { format: 'pipe-model/1' } })), { precision: 'fp32' });
  assert.equal(modelTraining(json()), undefined, 'build-model and older models say nothing');
  assert.equal(modelTraining(json({ pipe: {} })), undefined);
  for (const training of [{ precision: 'fp16' }, {}, null, 'bf16']) {
    assert.throws(
      () => modelTraining(json({ training }), 'model/model.json'),
      (err: unknown) => err instanceof PipeError && /^model\/model\.json: userDefinedMetadata\.training\.precision must be fp32 or bf16/.test(err.message) && /train or export the model again/.test(err.hint ?? ''),
      JSON.stringify(training),
    );
  }
});
