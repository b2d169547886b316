// Which entries a garbage collection removes: a pure function of the entries and the policy, so the rules
// are tested without touching disk.
//
// Rules, in order: never an entry in `keep`; every other entry unused for longer than maxAgeDays; then the
// least recently used others until at most maxEntries entries and maxBytes bytes remain (entries in `keep`
// count toward both bounds but are never removed, so a bound may stay exceeded).

export interface EntryInfo {
  key: string;
  stage: string;
  uses: string;
  createdAt: string;
  /** Bytes of the entry's files and manifest. */
  bytes: number;
  /** ISO time of the last commit or touch(). */
  lastUsedAt: string;
  /** Set when the manifest cannot be read: such entries are always garbage unless kept. */
  damaged?: string;
}

export interface GcPolicy {
  maxAgeDays?: number;
  maxEntries?: number;
  maxBytes?: number;
  /** Keys that must survive (the ones current pipelines use). */
  keep: Set<string>;
}

const DAY_MS = 24 * 60 * 60 * 1000;

export function selectForRemoval(entries: EntryInfo[], policy: GcPolicy, now: number = Date.now()): EntryInfo[] {
  const lastUsed = (e: EntryInfo): number => Date.parse(e.lastUsedAt) || 0;
  // Least recently used first; key as tie-breaker so the choice is deterministic.
  const candidates = entries
    .filter((e) => !policy.keep.has(e.key))
    .sort((a, b) => lastUsed(a) - lastUsed(b) || (a.key < b.key ? -1 : 1));
  const removed = new Set<EntryInfo>();
  for (const e of candidates) {
    if (e.damaged) removed.add(e);
    else if (policy.maxAgeDays !== undefined && now - lastUsed(e) > policy.maxAgeDays * DAY_MS) removed.add(e);
  }
  let count = entries.length - removed.size;
  let bytes = entries.reduce((sum, e) => sum + (removed.has(e) ? 0 : e.bytes), 0);
  for (const e of candidates) {
    if (removed.has(e)) continue;
    const overCount = policy.maxEntries !== undefined && count > policy.maxEntries;
    const overBytes = policy.maxBytes !== undefined && bytes > policy.maxBytes;
    if (!overCount && !overBytes) break;
    removed.add(e);
    count -= 1;
    bytes -= e.bytes;
  }
  return candidates.filter((e) => removed.has(e));
}
