// Argument parsing shared by the commands: node's parseArgs, with its errors turned into PipeErrors that
// point at the command's help.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PipeError } from '../errors.js';

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (err) {
    throw new PipeError((err as Error).message, { hint: `see 'pipe ${command} --help'` });
  }
}

/** The single pipeline file a command acts on. */
export function onePipeline(command: string, positionals: string[]): string {
  if (positionals.length !== 1) {
    throw new PipeError(positionals.length ? `expected one pipeline file, got ${positionals.length}` : 'which pipeline? give its file', {
      hint: `pipe ${command} pipelines/quickstart.yaml`,
    });
  }
  return positionals[0];
}
