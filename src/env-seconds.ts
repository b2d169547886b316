// A number of seconds from an environment variable (PIPE_QUEUE_RECONNECT_S, PIPE_QUEUE_LOCK_S,
// PIPE_REMOTE_CACHE_TIMEOUT): unset or blank gives the fallback, anything but a number in range is an input
// error that names the variable and shows a good value.
import { PipeError } from './errors.js';

export interface EnvSecondsOptions {
  /** When the variable is unset or blank. */
  fallback: number;
  /** The least value allowed; without it, any number above 0. */
  atLeast?: number;
  /** A value to show in the hint. */
  example: number;
  env?: NodeJS.ProcessEnv;
}

export function envSeconds(name: string, options: EnvSecondsOptions): number {
  const text = (options.env ?? process.env)[name]?.trim();
  if (!text) return options.fallback;
  const seconds = Number(text);
  const { atLeast } = options;
  const inRange = atLeast === undefined ? seconds > 0 : seconds >= atLeast;
  if (!inRange || !Number.isFinite(seconds)) {
    const what = atLeast === undefined ? 'a positive number of seconds' : `a number of seconds of at least ${atLeast}`;
    throw new PipeError(`${name} '${text}' is not ${what}`, { hint: `e.g. ${name}=${options.example}` });
  }
  return seconds;
}
