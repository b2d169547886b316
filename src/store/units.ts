// Human sizes and ages for `pipe cache`: parsing "5GB", "500MiB", "30d" and printing them back.
import { PipeError } from '../errors.js';

const SIZE_UNITS: Record<string, number> = {
  b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, k: 1e3, m: 1e6, g: 1e9, t: 1e12,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40,
};

/** "5GB" → 5e9, "512MiB" → 536870912, "1000" → 1000 bytes. */
export function parseSize(text: string, option = '--max-size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const factor = m ? SIZE_UNITS[(m[2] || 'b').toLowerCase()] : undefined;
  if (!m || factor === undefined) {
    throw new PipeError(`${option}: cannot read '${text}' as a size`, { hint: 'write a number with a unit, e.g. 500MB, 5GB or 2GiB' });
  }
  return Math.round(Number(m[1]) * factor);
}

const AGE_UNITS: Record<string, number> = { s: 1 / 86400, m: 1 / 1440, h: 1 / 24, d: 1, w: 7 };

/** "30d" → 30, "12h" → 0.5, "2w" → 14 (days). A bare number means days. */
export function parseAgeDays(text: string, option = '--max-age'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(text);
  if (!m) throw new PipeError(`${option}: cannot read '${text}' as an age`, { hint: 'write a number with a unit: s, m, h, d or w, e.g. 30d or 12h' });
  return Number(m[1]) * AGE_UNITS[(m[2] || 'd').toLowerCase()];
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 'B';
  for (const u of units) {
    if (value < 1000) break;
    value /= 1000;
    unit = u;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/** Time since `iso`, coarse: "40s", "12m", "3h", "5d". */
export function formatAge(iso: string, now: number = Date.now()): string {
  const seconds = Math.max(0, (now - Date.parse(iso)) / 1000);
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m`;
  if (seconds < 86400 * 2) return `${Math.round(seconds / 3600)}h`;
  return `${Math.round(seconds / 86400)}d`;
}
