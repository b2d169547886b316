// Durations as people write them in a pipeline: "1h50m", "90m", "45s", "1h 30m 10s", or a number of minutes.

export const DURATION_PATTERN = '^\\s*(?:(\\d+(?:\\.\\d+)?)\\s*h)?\\s*(?:(\\d+(?:\\.\\d+)?)\\s*m)?\\s*(?:(\\d+(?:\\.\\d+)?)\\s*s)?\\s*$';

/** Seconds in `value` (a number is minutes), or undefined when it is not a duration or is not positive. */
export function durationSeconds(value: string | number): number | undefined {
  if (typeof value === 'number') return value > 0 ? value * 60 : undefined;
  const match = new RegExp(DURATION_PATTERN).exec(value);
  if (!match || !match.slice(1).some((part) => part !== undefined)) return undefined;
  const [h, m, s] = match.slice(1).map((part) => Number(part ?? 0));
  const seconds = h * 3600 + m * 60 + s;
  return seconds > 0 ? seconds : undefined;
}
