// Who owns a lock or a temp directory, and whether that owner is still alive. Temp directory names and lock
// files carry the owner's pid and a short tag of its host, so that leftovers of killed processes can be
// recognised and removed by whoever comes next.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

let cachedHostTag: string | undefined;

/** 8 hex digits identifying this machine (a pid is only meaningful on the host that issued it). */
export function hostTag(): string {
  cachedHostTag ??= createHash('sha256').update(hostname()).digest('hex').slice(0, 8);
  return cachedHostTag;
}

/**
 * Whether a process with this pid runs on this host. A zombie (killed, not yet reaped by its parent) counts
 * as dead: it will never release anything.
 */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // Linux only; elsewhere the signal probe above is all we know.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
  } catch {
    // no /proc: trust the signal probe
  }
  return true;
}

const OWNED_NAME = /^(.+)\.(\d+)\.([0-9a-f]{8})\.([0-9a-z]+)$/;

/** A directory or file name that records its owner: `<label>.<pid>.<hostTag>.<random>`. */
export function ownedName(label: string): string {
  return `${label}.${process.pid}.${hostTag()}.${Math.random().toString(36).slice(2, 10)}`;
}

export function parseOwnedName(name: string): { label: string; pid: number; host: string } | undefined {
  const m = OWNED_NAME.exec(name);
  return m ? { label: m[1], pid: Number(m[2]), host: m[3] } : undefined;
}
