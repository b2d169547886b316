// What each stage's outputs will hold, told before anything runs: every stage's `facts` hook, walked once in
// execution order, gets the facts of the outputs wired to its inputs and says those of its own outputs, and the
// problems they show become problems of the pipeline at the stage. Pure, no I/O; the core knows no fact by name.
import type { OutputFacts, Stage } from '../stage.js';
import type { Problem } from './problem.js';
import type { InputRef } from './types.js';

export interface FactsStage {
  /** Stage type, for messages. */
  uses: string;
  /** Undefined when the module did not load or its params did not pass: its outputs' facts are then unknown. */
  stage?: Stage;
  params?: Record<string, unknown>;
  /** Its inputs, resolved to upstream outputs. */
  inputs: Record<string, InputRef>;
}

/** Each stage's output facts and the problems they show; `order` must put every stage after those it reads. */
export function deriveFacts(
  stages: Record<string, FactsStage>,
  order: string[],
): { facts: Record<string, Record<string, OutputFacts | undefined>>; problems: Problem[] } {
  const facts: Record<string, Record<string, OutputFacts | undefined>> = {};
  const problems: Problem[] = [];
  for (const id of order) {
    const { uses, stage, params, inputs } = stages[id];
    if (!stage?.facts || params === undefined) continue;
    const given = Object.fromEntries(Object.entries(inputs).map(([name, ref]) => [name, facts[ref.stage]?.[ref.output]]));
    let result;
    try {
      result = stage.facts(params, given, { id });
    } catch (err) {
      problems.push({
        message: `stage type '${uses}' failed to tell its outputs' facts: ${(err as Error).message}`,
        hint: 'this is a bug in the stage module, not in the pipeline',
        path: ['stages', id, 'uses'],
        anchor: 'value',
      });
      continue;
    }
    facts[id] = result.outputs ?? {};
    for (const p of result.problems ?? []) {
      const where: Pick<Problem, 'path' | 'anchor'> =
        p.input !== undefined && p.input in inputs
          ? { path: ['stages', id, 'inputs', p.input], anchor: 'value' }
          : p.at !== undefined
            ? { path: ['stages', id, 'with', ...p.at], anchor: 'key' }
            : { path: ['stages', id], anchor: 'key' };
      problems.push({ message: `stage '${id}' (${uses}): ${p.message}`, hint: p.hint, ...where });
    }
  }
  return { facts, problems };
}
