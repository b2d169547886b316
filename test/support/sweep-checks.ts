// What a 4-variant sweep of the quickstart over train params must show, run here or on the queue: each key built
// in one run of the sweep only; the data and model-building stages one key for all variants, built once (in the
// shared run) and cached in every variant; train, evaluate and report a key per variant, run in it.
import assert from 'node:assert/strict';
import type { RunRecord } from '../../src/runs/record.js';

const SHARED = ['faces', 'leakage', 'oversample', 'normalise', 'build'];
const PER_VARIANT = ['train', 'evaluate', 'report'];

/** The variants' records, after checking the above; `builtBefore`: shared stages already cached before the sweep. */
export function assertSharedStagesOnce(records: RunRecord[], builtBefore: string[] = [], count = 4): RunRecord[] {
  const variants = records.filter((r) => !r.sweep!.shared);
  assert.equal(variants.length, count);
  assert.ok(variants.every((r) => r.status === 'ok'));
  const ran = records.flatMap((r) => Object.values(r.stages).filter((s) => s.status === 'ran').map((s) => s.key));
  assert.equal(new Set(ran).size, ran.length, 'a key ran twice');
  for (const id of SHARED) {
    assert.equal(new Set(variants.map((r) => r.stages[id].key)).size, 1, id);
    assert.ok(variants.every((r) => r.stages[id].status === 'cached'), id);
    assert.equal(ran.filter((k) => k === variants[0].stages[id].key).length, builtBefore.includes(id) ? 0 : 1, `${id} built once`);
  }
  for (const id of PER_VARIANT) {
    assert.equal(new Set(variants.map((r) => r.stages[id].key)).size, count, id);
    assert.ok(variants.every((r) => r.stages[id].status === 'ran'), id);
  }
  return variants;
}
