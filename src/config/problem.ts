// A problem found in a pipeline, addressed by JSON path until it is turned into a PipeError with a location.
import type { Anchor, JsonPath } from './source.js';

export interface Problem {
  message: string;
  hint?: string;
  /** Path of the offending node in the pipeline document. */
  path: JsonPath;
  /** Point at the node's key (unknown or misplaced keys, missing children) or at its value. */
  anchor: Anchor;
}

/** How a path reads in a message: "param 'epochs' of stage 'train'", "input 'data' of stage 'split'", "'seed'". */
export function describePath(path: JsonPath): string {
  const [first, id, part, ...rest] = path.map(String);
  if (first === 'stages' && id !== undefined) {
    if (part === undefined) return `stage '${id}'`;
    if (part === 'with' && rest.length > 0) return `param '${rest.join('.')}' of stage '${id}'`;
    if (part === 'inputs' && rest.length > 0) return `input '${rest.join('.')}' of stage '${id}'`;
    return `'${[part, ...rest].join('.')}' of stage '${id}'`;
  }
  if (path.length === 0) return 'the pipeline';
  return `'${path.join('.')}'`;
}

/** A value as it reads in a message: strings quoted, long values cut. */
export function showValue(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
