// Durations, as `pipe` writes them and as pipelines write them.

// The one way `pipe` writes a duration, in the live view, summaries, reports, `pipe runs` and ETAs:
// 0.35 → "350 ms", 4.2 → "4.2 s", 87 → "1m27s", 7300 → "2h01m".

export function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 59.95) return `${seconds.toFixed(1)} s`;
  const total = Math.round(seconds);
  const m = Math.floor(total / 60);
  if (m < 60) return `${m}m${String(total % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

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
