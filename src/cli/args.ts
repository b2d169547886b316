// Argument parsing shared by the commands: node's parseArgs, with its errors turned into PipeErrors that
// point at the command's help.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { closest } from '../config/suggest.js';
import { PipeError } from '../errors.js';

export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(command: string, argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (err) {
    throw friendlyParseError(command, err as NodeJS.ErrnoException, options);
  }
}

/** Node's parser messages are written for programmers; say what was wrong with the command line instead. */
function friendlyParseError(command: string, err: NodeJS.ErrnoException, options: NonNullable<ParseArgsConfig['options']>): PipeError {
  const help = `see 'pipe ${command} --help'`;
  const flags = Object.keys(options).map((name) => `--${name}`);
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const option = /'([^']+)'/.exec(err.message)?.[1] ?? '?';
    const guess = closest(option.replace(/=.*$/, ''), flags);
    return new PipeError(`pipe ${command}: unknown option '${option}'`, {
      hint: guess ? `did you mean '${guess}'? (${help})` : `the options are ${flags.join(', ')}; ${help}`,
    });
  }
  if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const option = /--[\w-]+/.exec(err.message)?.[0] ?? 'the option';
    const takesValue = options[option.slice(2)]?.type === 'string';
    return new PipeError(takesValue ? `pipe ${command}: ${option} needs a value` : `pipe ${command}: ${option} takes no value`, {
      hint: takesValue ? `give it as ${option} <value> or ${option}=<value>; ${help}` : help,
    });
  }
  return new PipeError(`pipe ${command}: ${err.message}`, { hint: help });
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
