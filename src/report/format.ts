// Number formats shared by the HTML report, the Markdown summary and `pipe compare`.

export function formatPercent(value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? '—' : `${(value * 100).toFixed(digits)}%`;
}

export function formatNumber(value: number | undefined, digits = 3): string {
  return value === undefined || !Number.isFinite(value) ? '—' : value.toFixed(digits);
}

/** 1234567 → "1,234,567" (fixed locale so output does not depend on the machine). */
export function formatCount(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '—' : Math.round(value).toLocaleString('en-US');
}

/** Durations: the project's one formatter (src/duration.ts). */
export { formatDuration as formatSeconds } from '../duration.js';

/** Signed difference in percentage points: +12.3 pp. */
export function formatPointDelta(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) return '—';
  const d = (a - b) * 100;
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(1)} pp`;
}
