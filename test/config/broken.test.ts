// Every broken pipeline in test/fixtures/broken must fail with a message that names the problem, at the
// line and column of the offending node, with a hint where one helps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadPipeline } from '../../src/config/load.js';
import { PipeError, PipeErrors } from '../../src/errors.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
// The fixture stages (make-numbers, scale, merge) stand in for the built-in stages.
const builtinDir = fileURLToPath(new URL('../fixtures/stages/', import.meta.url));

async function problemsOf(name: string, sets: string[] = []): Promise<PipeError[]> {
  const file = `test/fixtures/broken/${name}`;
  try {
    await loadPipeline(file, { builtinDir, cwd: repoRoot, sets });
  } catch (err) {
    assert.ok(err instanceof PipeErrors, `expected PipeErrors, got ${String(err)}`);
    for (const e of err.errors) assert.equal(e.exitCode, 2);
    return err.errors;
  }
  assert.fail(`${file} loaded without errors`);
}

interface Expected {
  line: number;
  column: number;
  message: string | RegExp;
  hint?: string | RegExp;
}

function assertProblem(error: PipeError, file: string, expected: Expected): void {
  assert.ok(error.location, `no location on: ${error.message}`);
  assert.equal(error.location.file, `test/fixtures/broken/${file}`);
  assert.deepEqual([error.location.line, error.location.column], [expected.line, expected.column], error.format());
  if (typeof expected.message === 'string') assert.equal(error.message, expected.message);
  else assert.match(error.message, expected.message);
  if (expected.hint !== undefined) {
    assert.ok(error.hint, `no hint on: ${error.message}`);
    if (typeof expected.hint === 'string') assert.equal(error.hint, expected.hint);
    else assert.match(error.hint, expected.hint);
  }
  // The code frame shows the offending line, marked, with a caret under the column.
  const frameLines = error.frame?.split('\n') ?? [];
  const marked = frameLines.findIndex((l) => l.startsWith('>'));
  assert.ok(marked >= 0, `no marked line in frame:\n${error.frame}`);
  assert.match(frameLines[marked], new RegExp(`^> +${expected.line} \\| `));
  const caretLine = frameLines[marked + 1];
  const bar = frameLines[marked].indexOf('| ') + 2;
  assert.equal(caretLine.indexOf('^'), bar + expected.column - 1, `caret misplaced:\n${error.frame}`);
}

const single: Array<[string, Expected]> = [
  ['unknown-top-level-key.yaml', { line: 3, column: 1, message: "unknown key 'sede' at the top level", hint: "did you mean 'seed'?" }],
  ['misspelt-stage-type.yaml', { line: 5, column: 11, message: "unknown stage type 'make-numbres'", hint: "did you mean 'make-numbers'?" }],
  [
    'wrong-param-type.yaml',
    { line: 7, column: 14, message: "param 'count' of stage 'numbers' must be an integer, got \"ten\"", hint: 'count: How many numbers to write.' },
  ],
  ['unknown-param.yaml', { line: 7, column: 7, message: "unknown param 'cuont' for stage 'numbers' (make-numbers)", hint: "did you mean 'count'?" }],
  [
    'missing-required-param.yaml',
    { line: 6, column: 3, message: "stage 'scaled' (scale) is missing the required param 'factor'", hint: 'factor: What to multiply by.' },
  ],
  ['out-of-range.yaml', { line: 6, column: 20, message: "param 'count' of stage 'numbers' must be >= 1, got 0" }],
  ['unknown-input-name.yaml', { line: 11, column: 7, message: "stage 'scaled' (scale) has no input 'dta'", hint: "did you mean 'data'?" }],
  [
    'unknown-stage-ref.yaml',
    {
      line: 10,
      column: 13,
      message: "input 'data' of stage 'scaled' refers to 'nubmers', which is not a stage in this pipeline",
      hint: "did you mean 'numbers'?",
    },
  ],
  ['unknown-output-ref.yaml', { line: 15, column: 13, message: "stage 'merged' (merge) has no output 'dta'", hint: "did you mean 'data'?" }],
  [
    'ambiguous-output.yaml',
    {
      line: 12,
      column: 13,
      message: "input 'left' of stage 'again': stage 'merged' (merge) has several outputs and none is named 'left'",
      hint: "name one: 'merged.data', 'merged.stats'",
    },
  ],
  ['cycle.yaml', { line: 7, column: 21, message: 'stages form a cycle: first -> second -> third -> first' }],
  ['missing-stages.yaml', { line: 2, column: 1, message: "missing the required key 'stages'", hint: /^stages: / }],
  ['bad-stage-id.yaml', { line: 4, column: 3, message: "invalid stage id 'Numbers'", hint: /lowercase letter/ }],
  [
    'user-stage-not-found.yaml',
    { line: 5, column: 11, message: /^stage module '\.\.\/stages\/make-numbres\.ts' not found/, hint: "did you mean '../stages/make-numbers.ts'?" },
  ],
  [
    'not-a-stage.yaml',
    { line: 5, column: 11, message: "stage module './not-a-stage.ts' is not a valid stage: missing or wrong outputs (object), run (function)", hint: /defineStage/ },
  ],
  [
    'missing-required-input.yaml',
    { line: 4, column: 3, message: "stage 'scaled' (scale) is missing the required input 'data'", hint: /add `inputs: \{ data: <stage id> \}`/ },
  ],
  [
    'bad-backend.yaml',
    { line: 3, column: 10, message: "'backend' must be one of 'auto', 'tensorflow', 'wasm', 'cpu', got \"wsam\"", hint: "did you mean 'wasm'?" },
  ],
  ['duplicate-key.yaml', { line: 6, column: 3, message: 'YAML syntax: Map keys must be unique', hint: /each key may appear once/ }],
  ['misspelt-stage-key.yaml', { line: 6, column: 5, message: "unknown key 'wiht' in stage 'numbers'", hint: "did you mean 'with'?" }],
];

for (const [file, expected] of single) {
  test(`broken pipeline ${file}: one problem, located`, async () => {
    const errors = await problemsOf(file);
    assert.equal(errors.length, 1, errors.map((e) => e.format()).join('\n\n'));
    assertProblem(errors[0], file, expected);
  });
}

test('broken pipeline yaml-syntax.yaml: the unclosed flow collections are reported where they end', async () => {
  const errors = await problemsOf('yaml-syntax.yaml');
  assert.ok(errors.length >= 1);
  assertProblem(errors[0], 'yaml-syntax.yaml', {
    line: 6,
    column: 26,
    message: /^YAML syntax: Flow sequence .* must .* end with a \]/,
    hint: /every \[ or \{ is closed/,
  });
});

test('broken pipeline many-problems.yaml: every problem is reported at once, in file order', async () => {
  const errors = await problemsOf('many-problems.yaml');
  const summary = errors.map((e) => `${e.location?.line}:${e.location?.column} ${e.message}`);
  assert.deepEqual(summary, [
    "3:7 'seed' must be >= 0, got -1",
    "8:14 param 'count' of stage 'numbers' must be <= 1000, got 5000",
    "9:23 param 'shape.width' of stage 'numbers' must be >= 1, got 0",
    "10:3 stage 'scaled' (scale) is missing the required param 'factor'",
    "12:21 input 'data' of stage 'scaled' refers to 'numbrs', which is not a stage in this pipeline",
    "14:11 unknown stage type 'nope'",
  ]);
  const all = new PipeErrors(errors).format();
  for (const line of ['many-problems.yaml:3:7:', 'many-problems.yaml:14:11:', "hint: did you mean 'numbers'?"]) assert.ok(all.includes(line), line);
});

test('broken pipeline empty-stage.yaml: a stage with nothing under it, and an empty uses', async () => {
  const errors = await problemsOf('empty-stage.yaml');
  assert.equal(errors.length, 2, errors.map((e) => e.format()).join('\n\n'));
  assertProblem(errors[0], 'empty-stage.yaml', { line: 6, column: 3, message: "stage 'scaled' is empty", hint: /at least `uses: <stage type>`/ });
  assertProblem(errors[1], 'empty-stage.yaml', { line: 8, column: 11, message: "'uses' of stage 'merged' is empty", hint: /^uses: The stage type/ });
});

test('a missing pipeline file is one error without a location', async () => {
  await assert.rejects(loadPipeline('test/fixtures/broken/no-such-file.yaml', { builtinDir, cwd: repoRoot }), (err: unknown) => {
    assert.ok(err instanceof PipeError && !(err instanceof PipeErrors));
    assert.equal(err.message, 'pipeline file not found: test/fixtures/broken/no-such-file.yaml');
    return true;
  });
});
