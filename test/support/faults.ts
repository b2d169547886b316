// Shared checks of the fault suite (test/faults-*.test.ts): every bad input or fault ends with the right exit
// code, a message that names the place, no stack trace, and a store that `pipe cache verify` finds sound.
import assert from 'node:assert/strict';
import type { SpawnSyncReturns } from 'node:child_process';
import type { ToyProject } from '../../harness/toy-project.js';

/** A line of a JavaScript stack trace ("    at fn (file.js:1:2)"). */
const STACK_LINE = /^\s+at .+(:\d+:\d+\)?|\(native\))$/m;

export function assertFault(
  project: ToyProject,
  result: SpawnSyncReturns<string>,
  expected: { status: number; place: RegExp; env?: Record<string, string> },
): string {
  const output = `${result.stdout}${result.stderr}`;
  assert.equal(result.status, expected.status, `exit code ${result.status}, expected ${expected.status}:\n${output}`);
  assert.match(output, expected.place);
  assert.doesNotMatch(output, STACK_LINE, `a stack trace was printed:\n${output}`);
  assertStoreSound(project, expected.env);
  return output;
}

export function assertStoreSound(project: ToyProject, env?: Record<string, string>): void {
  const verify = project.pipe(['cache', 'verify'], env);
  assert.equal(verify.status, 0, `pipe cache verify: ${verify.stdout}${verify.stderr}`);
  assert.match(verify.stdout, /entries checked, 0 damaged/);
}

/** Layers of a small CNN that fits 16×16 grey images and FER2013's 7 classes. */
export const GOOD_LAYERS = `        - conv2d: { filters: 4, kernelSize: 3, activation: relu }
        - maxPooling2d: { poolSize: 2 }
        - flatten: {}
        - dense: { units: 7, activation: softmax }`;

/** A pipeline of built-in stages on the cpu backend: synthetic faces, a model from `layers`, training. */
export function modelPipeline(layers: string, options: { trainModel?: string; count?: number; trainWith?: string } = {}): string {
  return `name: shapes
seed: 3
backend: cpu
stages:
  faces:
    uses: synthetic-faces
    with: { count: ${options.count ?? 70}, size: 16 }
  build:
    uses: build-model
    with:
      inputShape: [16, 16, 1]
      layers:
${layers}
  train:
    uses: train
    inputs: { model: ${options.trainModel ?? 'build'}, data: faces }
    with: ${options.trainWith ?? '{ epochs: 1 }'}
`;
}
