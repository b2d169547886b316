// The stage graph, from `inputs:` references: resolving each reference to an upstream output, finding
// cycles, and ordering stages so each runs after what it reads. Pure functions, no I/O.
import type { InputSpec, OutputSpec } from '../stage.js';
import type { Problem } from './problem.js';
import { didYouMean } from './suggest.js';
import type { InputRef } from './types.js';

/** What the graph needs to know about one stage. */
export interface GraphStage {
  /** Stage type, for messages. */
  uses: string;
  /** As written under `inputs:`; undefined when absent. */
  refs?: Record<string, string>;
  /** Declared by the stage module; undefined when the module could not be loaded (its refs are then not checked). */
  inputs?: Record<string, InputSpec>;
  outputs?: Record<string, OutputSpec>;
}

/**
 * Check every stage's inputs and resolve references: "stageId.output" names an output; "stageId" alone means
 * the output named like the input if there is one, else the upstream stage's only output, else its only output
 * of a kind the input accepts.
 */
/** The outputs of a kind the input accepts (none when it accepts any kind: that choice is the user's). */
function kindMatches(input: InputSpec, outputs: Record<string, OutputSpec>): string[] {
  if (!input.accepts) return [];
  return Object.entries(outputs).filter(([, o]) => o.kind !== undefined && input.accepts!.includes(o.kind)).map(([name]) => name);
}

export function resolveInputs(stages: Record<string, GraphStage>): { inputs: Record<string, Record<string, InputRef>>; problems: Problem[] } {
  const problems: Problem[] = [];
  const resolved: Record<string, Record<string, InputRef>> = {};
  const ids = Object.keys(stages);
  for (const [id, stage] of Object.entries(stages)) {
    resolved[id] = {};
    if (!stage.inputs) continue;
    const declared = Object.keys(stage.inputs);
    const refs = stage.refs ?? {};
    for (const [name, ref] of Object.entries(refs)) {
      const at = ['stages', id, 'inputs', name];
      if (!declared.includes(name)) {
        problems.push({
          message: `stage '${id}' (${stage.uses}) has no input '${name}'`,
          hint: didYouMean(name, declared, `inputs of ${stage.uses}`) ?? `${stage.uses} takes no inputs`,
          path: at,
          anchor: 'key',
        });
        continue;
      }
      if (typeof ref !== 'string') continue; // the schema check reports it
      const dot = ref.indexOf('.');
      const upstreamId = dot < 0 ? ref : ref.slice(0, dot);
      const upstream = stages[upstreamId];
      if (!upstream) {
        problems.push({
          message: `input '${name}' of stage '${id}' refers to '${upstreamId}', which is not a stage in this pipeline`,
          hint: didYouMean(upstreamId, ids.filter((s) => s !== id), 'stages'),
          path: at,
          anchor: 'value',
        });
        continue;
      }
      if (!upstream.outputs) continue;
      const outputs = Object.keys(upstream.outputs);
      let output: string | undefined;
      if (dot >= 0) {
        output = ref.slice(dot + 1);
        if (!outputs.includes(output)) {
          problems.push({
            message: `stage '${upstreamId}' (${upstream.uses}) has no output '${output}'`,
            hint: didYouMean(output, outputs, `outputs of ${upstream.uses}`) ?? `${upstream.uses} has no outputs`,
            path: at,
            anchor: 'value',
          });
          continue;
        }
      } else if (outputs.includes(name)) {
        output = name;
      } else if (outputs.length === 1) {
        output = outputs[0];
      } else if (kindMatches(stage.inputs[name], upstream.outputs).length === 1) {
        [output] = kindMatches(stage.inputs[name], upstream.outputs);
      } else {
        problems.push({
          message: `input '${name}' of stage '${id}': stage '${upstreamId}' (${upstream.uses}) has ${outputs.length === 0 ? 'no outputs' : `several outputs and none is named '${name}'`}`,
          hint: outputs.length > 0 ? `name one: ${outputs.map((o) => `'${upstreamId}.${o}'`).join(', ')}` : undefined,
          path: at,
          anchor: 'value',
        });
        continue;
      }
      const input = stage.inputs[name];
      const wrongKind = kindMismatch(input, upstream.outputs[output]);
      if (wrongKind) {
        const fitting = Object.entries(stages).flatMap(([sid, s]) =>
          sid === id ? [] : Object.entries(s.outputs ?? {}).filter(([, o]) => o.kind !== undefined && !kindMismatch(input, o)).map(([o]) => `'${sid}.${o}'`),
        );
        problems.push({
          message: `input '${name}' of stage '${id}' (${stage.uses}) takes ${wrongKind.wanted}, but '${upstreamId}.${output}' is ${wrongKind.got} (${upstream.outputs[output].file})`,
          hint: fitting.length ? `wire it to ${fitting.slice(0, 4).join(' or ')}` : `add a stage that makes ${wrongKind.wanted} and wire it here`,
          path: at,
          anchor: 'value',
        });
        continue;
      }
      resolved[id][name] = { stage: upstreamId, output };
    }
    const missing = declared.filter((name) => !stage.inputs![name].optional && !(name in refs));
    for (const name of missing) {
      problems.push({
        message: `stage '${id}' (${stage.uses}) is missing the required input '${name}'`,
        hint: `${name}: ${stage.inputs[name].description}; add \`inputs: { ${name}: <stage id> }\``,
        path: stage.refs ? ['stages', id, 'inputs'] : ['stages', id],
        anchor: 'key',
      });
    }
  }
  return { inputs: resolved, problems };
}

/** Why an output cannot feed an input, by their declared kinds; undefined when it can (or either says nothing). */
function kindMismatch(input: InputSpec, output: OutputSpec): { wanted: string; got: string } | undefined {
  if (!input.accepts || output.kind === undefined || input.accepts.includes(output.kind)) return undefined;
  const a = (kind: string) => `${/^[aeiou]/.test(kind) ? 'an' : 'a'} ${kind}`;
  return { wanted: input.accepts.map(a).join(' or '), got: a(output.kind) };
}

/** Each cycle in the graph once, as the stage ids along it (a strongly connected component, or a self-loop). */
export function findCycles(edges: Record<string, string[]>): string[][] {
  // Tarjan's algorithm; ids visited in file order so messages are stable.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges[v] ?? []) {
      if (!(w in edges)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges[v] ?? []).includes(v)) cycles.push(orderCycle(component, edges));
    }
  };
  for (const v of Object.keys(edges)) if (!index.has(v)) visit(v);
  return cycles;
}

/** Put a component's ids in the order one walks them (a -> b -> c), starting from the first in file order. */
function orderCycle(component: string[], edges: Record<string, string[]>): string[] {
  const members = new Set(component);
  const start = Object.keys(edges).find((id) => members.has(id))!;
  const path = [start];
  const seen = new Set(path);
  let current = start;
  for (;;) {
    const next = (edges[current] ?? []).find((w) => members.has(w) && !seen.has(w));
    if (!next) break;
    path.push(next);
    seen.add(next);
    current = next;
  }
  // Members not on the simple walk (a component can hold several loops) still belong to the cycle.
  for (const id of Object.keys(edges)) if (members.has(id) && !seen.has(id)) path.push(id);
  return path;
}

/**
 * The one execution order of a pipeline's stages (`pipe dag`, `pipe run`, records): each stage after the stages
 * it reads from; among the stages ready at a step, the first in file order goes next. Throws on a cycle
 * (the loader reports cycles with their location before anything orders them).
 */
export function topologicalOrder(edges: Record<string, string[]>): string[] {
  const ids = Object.keys(edges);
  const remaining = new Map(ids.map((id) => [id, new Set((edges[id] ?? []).filter((u) => u in edges))]));
  const order: string[] = [];
  while (remaining.size > 0) {
    const ready = ids.find((id) => remaining.has(id) && [...remaining.get(id)!].every((u) => !remaining.has(u)));
    if (ready === undefined) throw new Error(`the stages ${[...remaining.keys()].join(', ')} depend on each other in a cycle`);
    order.push(ready);
    remaining.delete(ready);
  }
  return order;
}
