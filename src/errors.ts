// Errors are values with a location until the CLI prints them.
import { printable } from './printable.js';

export interface SourceLocation {
  file: string;
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
}

export interface PipeErrorOptions {
  /** Where in a user's file the problem is. */
  location?: SourceLocation;
  /** A few lines of the file around the location, already formatted with a caret. */
  frame?: string;
  /** How to fix it, in plain words. */
  hint?: string;
  /** Process exit code: 2 for bad input (the default), 1 for failures while running. */
  exitCode?: number;
  cause?: unknown;
}

/** An error the user can act on: printed without a stack trace unless --debug. */
export class PipeError extends Error {
  readonly location?: SourceLocation;
  readonly frame?: string;
  readonly hint?: string;
  readonly exitCode: number;

  constructor(message: string, options: PipeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PipeError';
    this.location = options.location;
    this.frame = options.frame;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 2;
  }

  /** "file:line:col: message", the code frame, and the hint. */
  format(): string {
    const where = this.location ? `${this.location.file}:${this.location.line}:${this.location.column}: ` : '';
    const parts = [`${where}error: ${this.message}`];
    if (this.frame) parts.push(this.frame);
    if (this.hint) parts.push(`hint: ${this.hint}`);
    return printable(parts.join('\n'));
  }
}

/** Several input errors reported together (e.g. every schema violation in a file). */
export class PipeErrors extends PipeError {
  readonly errors: PipeError[];
  constructor(errors: PipeError[]) {
    super(errors.length === 1 ? errors[0].message : `${errors.length} problems`, { exitCode: errors[0]?.exitCode ?? 2 });
    this.errors = errors;
  }
  override format(): string {
    return this.errors.map((e) => e.format()).join('\n\n');
  }
}

/** An error's stack trace followed by those of its causes (a PipeError often wraps the error that led to it). */
export function stackOf(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    parts.push(`${depth ? 'caused by: ' : ''}${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  }
  return parts.join('\n');
}
